// SPDX-License-Identifier: GPL-2.0
/* A struct_ops map (a do-nothing TCP congestion control, never registered) and a
 * socket filter to associate with it (libbpf 1.7's bpf_program__assoc_struct_ops). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("struct_ops/lbpy_as_ssthresh")
__u32 BPF_PROG(lbpy_as_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/lbpy_as_cong_avoid")
void BPF_PROG(lbpy_as_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC("struct_ops/lbpy_as_undo_cwnd")
__u32 BPF_PROG(lbpy_as_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC(".struct_ops")
struct tcp_congestion_ops lbpy_as_cc = {
	.ssthresh = (void *)lbpy_as_ssthresh,
	.cong_avoid = (void *)lbpy_as_cong_avoid,
	.undo_cwnd = (void *)lbpy_as_undo_cwnd,
	.name = "lbpy_as_cc",
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} plain SEC(".maps");

SEC("socket")
int lbpy_as_filter(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
