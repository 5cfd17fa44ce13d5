// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A uprobe session (libbpf >= 1.6, kernel >= 6.13): one program run at entry and,
 * because it returns 0 there, again at return. counts[0] counts both runs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

SEC("uprobe.session")
int on_session(struct pt_regs *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&runs, &zero);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
