// SPDX-License-Identifier: GPL-2.0
/* One program per cgroup attach type tests/test_attach.py exercises; each
 * counts its runs in its own slot of `cg_counts` and allows the operation. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} cg_counts SEC(".maps");

static __always_inline int bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&cg_counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 1;
}

SEC("cgroup_skb/egress")
int cg_skb_egress(struct __sk_buff *skb) { return bump(0); }

SEC("cgroup/connect4")
int cg_connect4(struct bpf_sock_addr *ctx) { return bump(1); }

SEC("cgroup/sysctl")
int cg_sysctl(struct bpf_sysctl *ctx) { return bump(2); }

SEC("cgroup/getsockopt")
int cg_getsockopt(struct bpf_sockopt *ctx) { return bump(3); }

SEC("cgroup/bind4")
int cg_bind4(struct bpf_sock_addr *ctx) { return bump(4); }

SEC("cgroup/dev")
int cg_dev(struct bpf_cgroup_dev_ctx *ctx) { return bump(5); }

SEC("sockops")
int cg_sockops(struct bpf_sock_ops *ctx) { return bump(6); }

char LICENSE[] SEC("license") = "GPL";
