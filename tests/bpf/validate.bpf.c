// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Validation tests (tests/test_validate.py): a BTF-typed map value with a u32,
 * an s32, bitfields and a u64; a .rodata filter and a .bss counter for the
 * skeleton checks; a program whose name the tests patch to a non-UTF-8 one. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct vt_rec {
	__u32 pid;
	__s32 delta;
	unsigned int mode : 3;	/* unsigned 3-bit bitfield */
	int level : 5;		/* signed 5-bit bitfield */
	__u64 total;
};

const volatile __u32 targ_tgid = 0;	/* .rodata: count only this process */
__u64 counter = 0;			/* .bss */
__s32 balance = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct vt_rec);
} vt_events SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int vt_prog_name_zz(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (targ_tgid && pid != targ_tgid)
		return 0;
	__sync_fetch_and_add(&counter, 1);
	balance -= 1;
	return 0;
}
