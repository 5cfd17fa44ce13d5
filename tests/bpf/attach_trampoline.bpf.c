// SPDX-License-Identifier: GPL-2.0
/* Trampoline programs (fentry, fexit, fmod_ret, LSM): refused under lockdown. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 hits;

SEC("fentry/do_nanosleep")
int BPF_PROG(on_fentry)
{
	hits++;
	return 0;
}

SEC("fexit/do_nanosleep")
int BPF_PROG(on_fexit)
{
	hits++;
	return 0;
}

SEC("fmod_ret/security_task_getsid")
int BPF_PROG(on_fmod_ret, struct task_struct *p, int ret)
{
	hits++;
	return 0;
}

SEC("lsm/task_getsid")
int BPF_PROG(on_lsm, struct task_struct *p, int ret)
{
	hits++;
	return ret;
}

char LICENSE[] SEC("license") = "GPL";
