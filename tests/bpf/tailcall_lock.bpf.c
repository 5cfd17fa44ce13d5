// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A PROG_ARRAY with a tail call, and a map whose value holds a bpf_spin_lock,
 * for tests/test_map.py. All programs are XDP, run with test_run. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} jmp SEC(".maps");

/* Both counters change together under the lock: a reader that takes the
 * lock (BPF_F_LOCK) must never see them differ. */
struct locked_pair {
	struct bpf_spin_lock lock;
	__u64 a;
	__u64 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct locked_pair);
} pairs SEC(".maps");

SEC("xdp")
int entry(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &jmp, 0);
	return XDP_PASS;	/* only when jmp[0] is empty */
}

SEC("xdp")
int target(struct xdp_md *ctx)
{
	return XDP_TX;
}

SEC("xdp")
int bump(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct locked_pair *p = bpf_map_lookup_elem(&pairs, &key);

	if (!p)
		return XDP_ABORTED;
	bpf_spin_lock(&p->lock);
	p->a += 1;
	p->b += 1;
	bpf_spin_unlock(&p->lock);
	return XDP_PASS;
}
