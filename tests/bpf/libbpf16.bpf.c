// SPDX-License-Identifier: GPL-2.0
/* The libbpf 1.6 APIs on programs (tests/test_libbpf16.py): func and line info of a
 * program with a subprogram, two cgroup/sysctl programs that record the order they run
 * in, and a syscall program that writes to its BPF stream (kernel >= 6.17). */
#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__u64 seq = 0;
__u64 ran_first = 0, ran_second = 0;	/* the value of seq when each one ran */

/* kernel 6.18's name of the stream printk kfunc (6.17: bpf_stream_vprintk) */
extern int bpf_stream_vprintk_impl(int stream_id, const char *fmt__str, const void *args,
				   __u32 len__sz, void *aux__prog) __ksym __weak;

int printk_ret = 0;

/* global (not static): clang may not fold a global function's result into its caller */
__noinline int twice(int x)
{
	return x + x; /* the subprogram's line */
}

SEC("xdp")
int with_subprog(struct xdp_md *ctx)
{
	return twice(1); /* XDP_PASS */
}

SEC("cgroup/sysctl")
int sysctl_first(struct bpf_sysctl *ctx)
{
	ran_first = __sync_add_and_fetch(&seq, 1);
	return 1;
}

SEC("cgroup/sysctl")
int sysctl_second(struct bpf_sysctl *ctx)
{
	ran_second = __sync_add_and_fetch(&seq, 1);
	return 1;
}

SEC("syscall")
int say_hello(void *ctx)
{
	static const char fmt[] = "hello from BPF %d\n";
	__u64 args[1] = { 42 };

	if (!&bpf_stream_vprintk_impl)
		return 1;
	printk_ret = bpf_stream_vprintk_impl(1 /* BPF_STREAM_STDOUT */, fmt, args, sizeof(args),
					     (void *)0);
	return 2;
}
