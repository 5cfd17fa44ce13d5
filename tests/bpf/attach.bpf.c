// SPDX-License-Identifier: GPL-2.0
/* Programs for tests/test_attach.py: one per attach kind this kernel allows.
 * Each bumps its own slot of `counts` when it runs (for the test's process
 * only where the event is process-wide: `target[0]` holds its tgid). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

enum {
	C_TP, C_RAW_TP, C_TP_BTF, C_UPROBE_BIN, C_UPROBE_LIBC, C_URETPROBE, C_USDT,
	C_XDP, C_TC, C_CGROUP, C_PERF, C_SK_LOOKUP, C_ITER, C_USDT_ARG, C_URET_VAL,
	C_SK_MSG, C_TCX, C_NETFILTER, C_NETKIT,
	C_MAX = 32,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target SEC(".maps");

/* a small hash for the bpf_map_elem iterator to walk */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} walked SEC(".maps");

static __always_inline void bump(__u32 slot, __u64 by)
{
	__u64 *v = bpf_map_lookup_elem(&counts, &slot);

	if (v)
		__sync_fetch_and_add(v, by);
}

static __always_inline int mine(void)
{
	__u32 zero = 0;
	__u32 *tgid = bpf_map_lookup_elem(&target, &zero);

	return tgid && *tgid == (__u32)(bpf_get_current_pid_tgid() >> 32);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_tp(void *ctx)
{
	if (mine())
		bump(C_TP, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_raw_tp(void *ctx)
{
	if (mine())
		bump(C_RAW_TP, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int on_tp_btf(void *ctx)
{
	if (mine())
		bump(C_TP_BTF, 1);
	return 0;
}

SEC("uprobe")
int on_uprobe_bin(struct pt_regs *ctx)
{
	bump(C_UPROBE_BIN, 1);
	return 0;
}

SEC("uprobe")
int on_uprobe_libc(struct pt_regs *ctx)
{
	if (mine())
		bump(C_UPROBE_LIBC, 1);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_uretprobe, int ret)
{
	bump(C_URETPROBE, 1);
	bump(C_URET_VAL, ret);
	return 0;
}

SEC("usdt")
int BPF_USDT(on_usdt, int value)
{
	bump(C_USDT, 1);
	bump(C_USDT_ARG, value);
	return 0;
}

SEC("xdp")
int on_xdp(struct xdp_md *ctx)
{
	bump(C_XDP, 1);
	return XDP_PASS;
}

SEC("xdp")
int on_xdp_other(struct xdp_md *ctx)
{
	bump(C_XDP, 100);
	return XDP_PASS;
}

SEC("tc")
int on_tc(struct __sk_buff *skb)
{
	bump(C_TC, 1);
	return 0; /* TC_ACT_OK */
}

SEC("tc")
int on_tc_other(struct __sk_buff *skb)
{
	bump(C_TC, 100);
	return 0;
}

SEC("cgroup/sock_create")
int on_sock_create(struct bpf_sock *sk)
{
	bump(C_CGROUP, 1);
	return 1; /* allow */
}

SEC("perf_event")
int on_perf(struct bpf_perf_event_data *ctx)
{
	bump(C_PERF, 1);
	return 0;
}

SEC("sk_lookup")
int on_sk_lookup(struct bpf_sk_lookup *ctx)
{
	bump(C_SK_LOOKUP, 1);
	return SK_PASS;
}

SEC("iter/task")
int on_iter_task(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;

	if (!task)
		return 0;
	if (task->tgid == task->pid)
		BPF_SEQ_PRINTF(seq, "%d %s\n", task->tgid, task->comm);
	bump(C_ITER, 1);
	return 0;
}

SEC("iter/bpf_map_elem")
int on_iter_map(struct bpf_iter__bpf_map_elem *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	__u32 *key = ctx->key, *value = ctx->value;

	if (key && value)
		BPF_SEQ_PRINTF(seq, "%u=%u\n", *key, *value);
	return 0;
}

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} socks SEC(".maps");

SEC("sk_msg")
int on_sk_msg(struct sk_msg_md *msg)
{
	bump(C_SK_MSG, 1);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
