// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A log2 histogram of system call latencies (microseconds), from raw_syscalls sys_enter/sys_exit. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_SLOTS 27

/* .rodata knob, set from Python before load: trace this process only (0: all) */
const volatile __u32 targ_tgid = 0;

/* .bss, read from Python through the skeleton's memory map */
__u64 hist[MAX_SLOTS] = {};
__u64 total_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);	/* thread id */
	__type(value, __u64);	/* sys_enter time, ns */
} start SEC(".maps");

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;

	/* floor(log2(v)), 0 for 0 and 1 */
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) r += 1;
	return r;
}

SEC("tp/raw_syscalls/sys_enter")
int sys_enter(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 ts;

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tp/raw_syscalls/sys_exit")
int sys_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	__u64 *tsp, delta;
	__u32 slot;

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;	/* entered before we attached */
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &tid);
	__sync_fetch_and_add(&total_ns, delta);
	slot = log2_u64(delta / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&hist[slot], 1);
	return 0;
}
