// SPDX-License-Identifier: GPL-2.0
/* A kprobe session (libbpf >= 1.5, kernel >= 6.10): one program runs at a
 * function's entry and, because the entry run returns 0, again at its return.
 * The kfunc bpf_session_is_return() tells the two runs apart, so the test can
 * check that both happened. Its own object: libbpf < 1.5 does not know the
 * section name. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern bool bpf_session_is_return(void) __ksym __weak;

__u64 entries;
__u64 returns;

SEC("kprobe.session/do_nanosleep")
int on_kprobe_session(struct pt_regs *ctx)
{
	/* a weak kfunc's address is 0 where the kernel lacks it (what libbpf >= 1.2's
	 * bpf_ksym_exists() tests; spelled out: the headers may be older) */
	if (bpf_session_is_return && bpf_session_is_return())
		returns++;
	else
		entries++;
	return 0; /* 0: run again at the return */
}

char LICENSE[] SEC("license") = "GPL";
