// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The other half of a statically linked object (test_linker.py): an XDP program that
 * calls linked_add() and declares linked_counts, both weak here: linking with
 * linker_a.bpf.c resolves them to its strong definitions. Weak rather than extern, so
 * that this object also opens on its own (bpftool gen skeleton, test_skeleton.py). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* XDP_ABORTED: a run that returns this was not linked with linker_a's linked_add */
__weak __noinline int linked_add(int a, int b)
{
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} linked_counts SEC(".maps") __weak;

SEC("xdp")
int linked_xdp(struct xdp_md *ctx)
{
	/* XDP_PASS (2) when the call across the two objects works */
	return linked_add(1, 1);
}
