// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Count the packets and bytes arriving on an interface, per CPU, from XDP; pass them all on. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct datarec {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct datarec);
} stats SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct datarec *rec = bpf_map_lookup_elem(&stats, &key);

	if (rec) {
		/* a per-CPU slot: no other CPU writes it, no atomic needed */
		rec->packets++;
		rec->bytes += ctx->data_end - ctx->data;
	}
	return XDP_PASS;
}
