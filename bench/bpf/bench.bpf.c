// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The maps and programs of bench/run.py's workloads 1-4 (libbpf_py and C load
 * this object; bench/impl_bcc.py compiles the same definitions as BCC text).
 *
 *   ops     workload 1: hash map, 4-byte key, 8-byte value, one op at a time
 *   big     workload 2: hash map of 100k entries read in full
 *   counter workload 3: a .bss global that `bump` increments
 *   events  workload 4: ring buffer that `emit` fills with 64-byte records;
 *           both programs are XDP so bpf_prog_test_run can drive them with repeat
 *   svals   workload 7: hash map of 24-byte BTF struct values (ints, a char
 *           array, bitfields), one lookup / update at a time
 *   pcpu    workload 7: per-CPU array of __u64, one value per possible CPU
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BIG_ENTRIES 100000
#define SVAL_KEYS 1024

struct record {
	__u64 seq;
	__u64 pad[7];
};				/* 64 bytes */

struct sval {
	__u32 id;
	__s32 delta;
	__u64 bytes;
	char tag[6];
	__u16 kind: 4;
	__u16 level: 12;
};				/* 24 bytes */

__u64 counter = 0;		/* .bss */
__u64 emitted = 0;		/* .bss */
__u64 dropped = 0;		/* .bss */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} ops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BIG_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} big SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SVAL_KEYS);
	__type(key, __u32);
	__type(value, struct sval);
} svals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

SEC("xdp")
int bump(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&counter, 1);
	return XDP_PASS;
}

SEC("xdp")
int emit(struct xdp_md *ctx)
{
	struct record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r) {
		dropped++;
		return XDP_PASS;
	}
	r->seq = emitted++;
	for (int i = 0; i < 7; i++)
		r->pad[i] = i;
	bpf_ringbuf_submit(r, 0);
	return XDP_PASS;
}
