// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A generic USDT tracer: one ring buffer record per probe hit, with up to 4 arguments. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_ARGS 4

struct hit {
	__u32 pid;
	__u32 tid;
	__s32 nargs;
	__u32 pad;
	__s64 args[MAX_ARGS];
	char comm[16];
};

struct hit *unused_hit __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} hits SEC(".maps");

/* attached from Python with Program.attach_usdt(binary, provider, name) */
SEC("usdt")
int on_usdt(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct hit *h;
	long val;
	int i;

	h = bpf_ringbuf_reserve(&hits, sizeof(*h), 0);
	if (!h)
		return 0;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->nargs = bpf_usdt_arg_cnt(ctx);
	h->pad = 0;
	for (i = 0; i < MAX_ARGS; i++) {
		val = 0;
		if (i < h->nargs)
			bpf_usdt_arg(ctx, i, &val);
		h->args[i] = val;
	}
	bpf_get_current_comm(h->comm, sizeof(h->comm));
	bpf_ringbuf_submit(h, 0);
	return 0;
}
