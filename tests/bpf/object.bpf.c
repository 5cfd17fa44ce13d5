// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Programs of several types for the object-model tests. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

__u64 getpid_calls = 0;
const volatile __u32 xdp_verdict = XDP_PASS;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	__sync_fetch_and_add(&getpid_calls, 1);
	return 0;
}

/* test_run: returns the configured verdict and counts packet bytes */
SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&stats, &key);

	if (v)
		__sync_fetch_and_add(v, ctx->data_end - ctx->data);
	return xdp_verdict;
}

/* never loaded in most tests: autoload is switched off */
SEC("socket")
int sock_filter(struct __sk_buff *skb)
{
	return skb->len;
}
