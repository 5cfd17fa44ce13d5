// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A program the verifier must reject: it dereferences a map lookup result
 * without the NULL check. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int bad_deref(void *ctx)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&table, &key);

	return *v;	/* R0 invalid mem access 'map_value_or_null' */
}
