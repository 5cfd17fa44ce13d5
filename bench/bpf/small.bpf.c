// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Workload 5: a small object opened and loaded again and again. BCC compiles
 * the same program from text (bench/impl_bcc.py, SMALL_TEXT). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} packets SEC(".maps");

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&packets, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}
