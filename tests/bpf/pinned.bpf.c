// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A map pinned by name under pin_root_path, shared between objects. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifndef VALUE_TYPE
#define VALUE_TYPE __u64
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, VALUE_TYPE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int touch(void *ctx)
{
	__u32 key = 0;
	VALUE_TYPE *v = bpf_map_lookup_elem(&shared_counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
