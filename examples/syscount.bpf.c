// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Count system calls per process (thread group) on the raw_syscalls tracepoint. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct value {
	__u64 count;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct value);
} counts SEC(".maps");

SEC("tp/raw_syscalls/sys_enter")
int count_syscall(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct value *v, zero = {};

	v = bpf_map_lookup_elem(&counts, &tgid);
	if (!v) {
		bpf_get_current_comm(zero.comm, sizeof(zero.comm));
		bpf_map_update_elem(&counts, &tgid, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&counts, &tgid);
		if (!v)
			return 0;
	}
	__sync_fetch_and_add(&v->count, 1);
	return 0;
}
