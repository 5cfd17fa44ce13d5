// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tests/test_leaks.py: a small object whose one program attaches and detaches
 * cheaply (a cgroup_skb link: no RCU grace period waited for on detach, unlike a
 * tracepoint's, and no vmlinux BTF to parse at open, unlike an iterator's), so
 * the full open/load/attach/destroy/close cycle can run 10,000 times. It counts
 * the packets its cgroup sends, in .bss and in a hash map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 packets = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 one = 1, *val;

	__sync_fetch_and_add(&packets, 1);
	val = bpf_map_lookup_elem(&seen, &zero);
	if (val)
		__sync_fetch_and_add(val, 1);
	else
		bpf_map_update_elem(&seen, &zero, &one, BPF_NOEXIST);
	return 1;	/* let it through */
}
