// SPDX-License-Identifier: GPL-2.0
/* Programs for tests/test_ids.py: BpfObject.attach() attaches those whose SEC()
 * says where (the tracepoint and the raw tracepoint) and skips the others (xdp,
 * a bare kprobe and uprobe); each bumps its slot of `counts` for the test's
 * process (target_tgid) only. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum { C_TP, C_RAW_TP, C_OFF, C_XDP, C_MAX = 8 };

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} ids_counts SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v;

	if ((__u32)(bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return;
	v = bpf_map_lookup_elem(&ids_counts, &slot);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int ids_tp(void *ctx)
{
	bump(C_TP);
	return 0;
}

SEC("raw_tp/sys_enter")
int ids_raw_tp(void *ctx)
{
	bump(C_RAW_TP);
	return 0;
}

/* auto-attachable too; the test turns its autoattach off */
SEC("tracepoint/syscalls/sys_enter_getppid")
int ids_tp_off(void *ctx)
{
	bump(C_OFF);
	return 0;
}

/* no auto-attach: xdp has no attach function in libbpf */
SEC("xdp")
int ids_xdp(struct xdp_md *ctx)
{
	__u32 slot = C_XDP;
	__u64 *v = bpf_map_lookup_elem(&ids_counts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
	return XDP_PASS;
}

/* no auto-attach: a bare kprobe or uprobe section names no target */
SEC("kprobe")
int ids_kprobe(void *ctx)
{
	return 0;
}

SEC("uprobe")
int ids_uprobe(void *ctx)
{
	return 0;
}

/* a tracepoint that does not exist: loads, but attach() fails (the test turns its
 * autoload on only to see that failure) */
SEC("tracepoint/libbpf_py_no_such_category/no_such_event")
int ids_missing_tp(void *ctx)
{
	return 0;
}
