// SPDX-License-Identifier: GPL-2.0
/* freplace: a target XDP program with a global function, and its replacement. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

__u64 hits;

/* The result depends on ctx: a constant return would be propagated into the
 * caller and the call dropped, leaving no target_func subprogram in
 * freplace_target to replace ("Subprog target_func doesn't exist"). */
__noinline int target_func(struct xdp_md *ctx)
{
	return ctx->rx_queue_index == 0xffffffff ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int freplace_target(struct xdp_md *ctx)
{
	return target_func(ctx);
}

SEC("freplace/target_func")
int on_freplace(struct xdp_md *ctx)
{
	hits++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
