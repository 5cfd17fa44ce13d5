// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* One ring buffer record per successful exec, from the sched:sched_process_exec tracepoint. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define FILENAME_LEN 256

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[16];
	char filename[FILENAME_LEN];
};

/* puts struct event into the BTF, so Python can decode records with record="struct event" */
struct event *unused_event __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned int off = ctx->__data_loc_filename & 0xFFFF;
	struct event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + off);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
