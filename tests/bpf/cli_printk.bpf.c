// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* For `python -m libbpf_py prog tracelog` (tests/test_cli.py): bpf_printk of
 * the caller's pid on getpgid(); the test picks its own lines out. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tracepoint/syscalls/sys_enter_getpgid")
int cli_printk(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	bpf_printk("libbpf_py cli tracelog %u", pid);
	return 0;
}
