// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Exclusive maps (libbpf 1.7, kernel 6.18): "owned" is used by writer alone,
 * "shared" by both programs. Run with test_run (SEC "syscall"-free: socket filters
 * run through BPF_PROG_TEST_RUN with any packet). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} owned SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} shared SEC(".maps");

static __always_inline void bump(void *map)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(map, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("socket")
int writer(struct __sk_buff *skb)
{
	bump(&owned);
	bump(&shared);
	return 0;
}

SEC("socket")
int reader(struct __sk_buff *skb)
{
	bump(&shared);
	return 0;
}
