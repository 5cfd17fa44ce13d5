// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The sample program of the README's and docs/' Python snippets ("prog.bpf.o").
 * Build it with `python examples/build_prog.py` (writes prog.bpf.o into the
 * current directory); tests/test_snippets.py runs every snippet against it.
 *
 * On every getpid() (of target_pid only, when it is set) handle_getpid counts
 * the call per process in `counts` and in the .bss `counter`, and sends a
 * struct event to the `events` ring buffer and the `perf_events` perf buffer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct event {
	__u32 pid;		/* thread group id: what os.getpid() returns */
	__u32 tid;
	char comm[16];
};

struct error {
	__s32 code;		/* a negative errno of a failed helper call */
	__u32 pid;
};

/* put both structs into the BTF, for RingBuffer(..., record="struct event") */
struct event *event_type __attribute__((unused));
struct error *error_type __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);	/* pid */
	__type(value, __u64);	/* getpid() calls */
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} errors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} requests SEC(".maps");

const volatile __u32 target_pid = 0;	/* 0: every process */
__u64 counter = 0;			/* getpid() calls seen */
__u64 getppid_calls = 0;

static void report_error(__s32 code, __u32 pid)
{
	struct error *err = bpf_ringbuf_reserve(&errors, sizeof(*err), 0);

	if (!err)
		return;
	err->code = code;
	err->pid = pid;
	bpf_ringbuf_submit(err, 0);
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int handle_getpid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32;
	__u64 one = 1, *n;
	struct event ev = {};
	long ret;

	if (target_pid && pid != target_pid)
		return 0;
	__sync_fetch_and_add(&counter, 1);
	n = bpf_map_lookup_elem(&counts, &pid);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else {
		ret = bpf_map_update_elem(&counts, &pid, &one, BPF_NOEXIST);
		if (ret)
			report_error(ret, pid);
	}
	ev.pid = pid;
	ev.tid = (__u32)id;
	bpf_get_current_comm(ev.comm, sizeof(ev.comm));
	ret = bpf_ringbuf_output(&events, &ev, sizeof(ev), 0);
	if (ret)
		report_error(ret, pid);
	bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__sync_fetch_and_add(&getppid_calls, 1);
	return 0;
}

/* attached by hand: prog.attach_uprobe("libc.so.6", "getpid", pid=...) */
SEC("uprobe")
int on_libc_getpid(void *ctx)
{
	return 0;
}

/* a socket filter keeping every packet whole (attached to a socket, not by attach()) */
SEC("socket")
int sock_filter(struct __sk_buff *skb)
{
	return skb->len;
}
