// SPDX-License-Identifier: GPL-2.0
/* struct_ops: a do-nothing TCP congestion control, attached from its map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inits SEC(".maps");

SEC("struct_ops/lbpy_init")
void BPF_PROG(lbpy_init, struct sock *sk)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&inits, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("struct_ops/lbpy_ssthresh")
__u32 BPF_PROG(lbpy_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/lbpy_cong_avoid")
void BPF_PROG(lbpy_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/lbpy_undo_cwnd")
__u32 BPF_PROG(lbpy_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC(".struct_ops")
struct tcp_congestion_ops lbpy_cc = {
	.init = (void *)lbpy_init,
	.ssthresh = (void *)lbpy_ssthresh,
	.cong_avoid = (void *)lbpy_cong_avoid,
	.undo_cwnd = (void *)lbpy_undo_cwnd,
	.name = "lbpy_cc",
};

char LICENSE[] SEC("license") = "GPL";
