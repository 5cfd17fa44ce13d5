// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Workload 3's witness: counts the system calls one thread makes, so that
 * "reading a .bss variable costs no syscall" is measured, not assumed. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tid = 0;	/* set before load */
__u64 calls = 0;

SEC("tp/raw_syscalls/sys_enter")
int count_syscalls(void *ctx)
{
	if ((__u32)bpf_get_current_pid_tgid() == target_tid)
		__sync_fetch_and_add(&calls, 1);
	return 0;
}
