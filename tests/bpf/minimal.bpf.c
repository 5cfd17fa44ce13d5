// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The smallest useful program: count getpid() calls of one process.
 * Used by the per-environment smoke test and the demo. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile int target_pid = 0;	/* .rodata, set before load */
__u64 hits = 0;				/* .bss, read after the event */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int handle_getpid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *val;

	if (target_pid && pid != target_pid)
		return 0;
	__sync_fetch_and_add(&hits, 1);
	val = bpf_map_lookup_elem(&counts, &pid);
	if (val)
		__sync_fetch_and_add(val, 1);
	else
		bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
	return 0;
}
