// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A uprobe on a C library function: one ring buffer record per call, with its first argument. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct call {
	__u32 pid;
	__u32 tid;
	__u64 arg0;
	char comm[16];
};

struct call *unused_call __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} calls SEC(".maps");

__u64 dropped = 0;

/* attached from Python with Program.attach_uprobe(binary, func, pid=...) */
SEC("uprobe")
int BPF_KPROBE(on_call, unsigned long arg0)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *c;

	c = bpf_ringbuf_reserve(&calls, sizeof(*c), 0);
	if (!c) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	c->pid = id >> 32;
	c->tid = (__u32)id;
	c->arg0 = arg0;
	bpf_get_current_comm(c->comm, sizeof(c->comm));
	bpf_ringbuf_submit(c, 0);
	return 0;
}
