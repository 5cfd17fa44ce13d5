// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The other half of a statically linked object (test_linker.py): an XDP program that
 * calls linker_a.bpf.c's global function and reads its map, both extern here. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

extern int linked_add(int a, int b);

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
