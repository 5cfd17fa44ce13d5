// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Programs that fail in the ways a new user meets first (tests/test_messages.py):
 * each is loaded alone (the others' autoload off). Compiled with -g, so the
 * verifier log carries "; <source> @ messages.bpf.c:N" lines. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define LONG_LOG_LOOPS 3000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* a hash map: its lookup may return NULL (an array's in-range one may not) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} table SEC(".maps");

/* loads and attaches: the base of the attach and pin cases */
SEC("tp/syscalls/sys_enter_getpid")
int good(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&counts, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

/* a map value used without the NULL check */
SEC("tp/syscalls/sys_enter_getpid")
int null_deref(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&table, &key);

	*v += 1;
	return 0;
}

/* a loop the verifier cannot prove ends: it sees the same state again at the
 * loop's head ("infinite loop detected") */
SEC("tp/syscalls/sys_enter_getpid")
int spin(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&table, &key);

	if (!v)
		return 0;
	while (*(volatile __u64 *)v)
		;
	return 0;
}

/* a bounded loop the verifier walks iteration by iteration, then a NULL
 * dereference: the log (the whole failing path) has tens of thousands of lines */
SEC("tp/syscalls/sys_enter_getpid")
int long_log(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&table, &key);
	__u64 sum = 0;
	int i;

	for (i = 0; i < LONG_LOG_LOOPS; i++)
		sum += bpf_get_prandom_u32() & i;
	*v = sum;
	return 0;
}

/* attach targets the kernel does not have: load fails with ESRCH */
SEC("tp_btf/libbpf_py_no_such_tracepoint")
int no_tp_btf(void *ctx)
{
	return 0;
}

SEC("fentry/libbpf_py_no_such_function")
int no_fentry(void *ctx)
{
	return 0;
}
