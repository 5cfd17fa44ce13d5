// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One half of a statically linked object (test_linker.py): defines the map and the
 * global function that linker_b.bpf.c uses through extern declarations. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} linked_counts SEC(".maps");

__noinline int linked_add(int a, int b)
{
	__u32 key = 0;
	__u64 *val = bpf_map_lookup_elem(&linked_counts, &key);

	if (val)
		__sync_fetch_and_add(val, 1);
	return a + b;
}

/* A program of its own: an object whose .text would be its only code is read by
 * libbpf < 1.6 as one legacy program named after the function (skeleton parity). */
SEC("xdp")
int linked_xdp_a(struct xdp_md *ctx)
{
	return linked_add(0, 2); /* XDP_PASS */
}
