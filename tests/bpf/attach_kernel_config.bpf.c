// SPDX-License-Identifier: GPL-2.0
/* kprobe kinds: refused where the kernel has no kprobes, fired where it has;
 * tests/test_attach_kernel_config.py checks which. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 hits;

SEC("kprobe/do_nanosleep")
int on_kprobe(struct pt_regs *ctx)
{
	hits++;
	return 0;
}

SEC("kretprobe/do_nanosleep")
int on_kretprobe(struct pt_regs *ctx)
{
	hits++;
	return 0;
}

SEC("kprobe.multi/do_nanosleep")
int on_kprobe_multi(struct pt_regs *ctx)
{
	hits++;
	return 0;
}

SEC("ksyscall/getppid")
int on_ksyscall(struct pt_regs *ctx)
{
	hits++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
