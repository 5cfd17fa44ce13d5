// SPDX-License-Identifier: GPL-2.0
/* Attach kinds whose SEC() names need libbpf >= 1.3: tcx, netkit, netfilter,
 * uprobe.multi. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&hits, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tcx/ingress")
int on_tcx(struct __sk_buff *skb)
{
	bump(0);
	return TCX_NEXT;
}

SEC("netfilter")
int on_netfilter(struct bpf_nf_ctx *ctx)
{
	bump(1);
	return 1; /* NF_ACCEPT */
}

SEC("netkit/primary")
int on_netkit(struct __sk_buff *skb)
{
	bump(2);
	return 0; /* NETKIT_PASS: this kernel has no netkit, so vmlinux.h lacks it */
}

SEC("uprobe.multi")
int on_uprobe_multi(struct pt_regs *ctx)
{
	bump(3);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
