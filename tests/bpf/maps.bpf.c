// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Maps of several types with BTF, for tests/test_map.py. The XDP program,
 * run with test_run, writes into them from the kernel side. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u64 magic = 7;		/* .rodata */
__u32 data_var = 3;			/* .data */
__u64 runs = 0;				/* .bss */

struct pair {
	__u16 a;
	__u8 b;
};

struct event {
	__u32 pid;
	__s32 delta;
	__u64 ts;
	char comm[16];
	struct pair pair;
	__u32 flag: 3;
	__u32 rest: 29;
	__s64 arr[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct event);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __s32);
	__type(value, __s64);
} signed_vals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct inner_array {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_array);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} q SEC(".maps");

SEC("xdp")
int xdp_fill(struct xdp_md *ctx)
{
	__u32 key = 1, zero = 0;
	__u64 one = 1, *cnt;
	struct event ev = {};

	ev.pid = 42;
	ev.delta = -5;
	ev.ts = magic;
	__builtin_memcpy(ev.comm, "xdp", 4);
	ev.pair.a = 513;
	ev.pair.b = 9;
	ev.flag = 5;
	ev.arr[0] = -1;
	ev.arr[1] = 1LL << 40;
	bpf_map_update_elem(&events, &key, &ev, BPF_ANY);

	cnt = bpf_map_lookup_elem(&counts, &key);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);

	cnt = bpf_map_lookup_elem(&pcpu, &zero);
	if (cnt)
		*cnt += 1;
	bpf_map_push_elem(&q, &data_var, 0);
	__sync_fetch_and_add(&runs, 1);
	return XDP_PASS;
}
