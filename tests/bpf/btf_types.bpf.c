// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Types for the BTF tests (tests/test_btf.py) and a map and a program for the
 * command-line tests (tests/test_cli.py): a struct with bitfields, signed and
 * 64-bit enums, a union, arrays, a typedef chain and a function prototype.
 * Every type is reachable from a global or a map, so clang keeps it in BTF. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum btft_color { BTFT_RED = 0, BTFT_GREEN = 1, BTFT_BLUE = 7 };
enum btft_signed { BTFT_NEG = -3, BTFT_POS = 5 };
enum btft_wide { BTFT_SMALL = 1, BTFT_HUGE = 0x123456789ULL };

typedef unsigned int btft_u32;
typedef btft_u32 btft_id_t;		/* typedef of a typedef */
typedef const volatile btft_id_t btft_cv_id_t;

union btft_num {
	__u64 as_u64;
	__u32 as_u32[2];
	char bytes[8];
};

struct btft_flags {
	unsigned int ready : 1;
	unsigned int mode : 3;
	unsigned int level : 12;
	int delta : 8;		/* signed bitfield */
	__u16 port;
	enum btft_color color;
	btft_id_t id;
	union btft_num num;
	char tag[6];
	__u32 grid[2][3];
};

struct btft_value {
	__u32 count;
	__u32 last_pid;
	char comm[16];
};

typedef int (*btft_callback_t)(struct btft_flags *flags, long cookie);

struct btft_holder {
	btft_callback_t cb;
	enum btft_signed sign;
	enum btft_wide wide;
	btft_cv_id_t cv;
};

const volatile __u32 btft_target_pid = 0;	/* .rodata: count only this process */
struct btft_flags btft_flags_var = {};
struct btft_holder btft_holder_var = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct btft_value);
} btft_values SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int btft_getppid(void *ctx)
{
	__u32 key = 1, pid = bpf_get_current_pid_tgid() >> 32;
	struct btft_value *v, init = {};

	if (btft_target_pid && pid != btft_target_pid)
		return 0;
	v = bpf_map_lookup_elem(&btft_values, &key);
	if (!v) {
		bpf_map_update_elem(&btft_values, &key, &init, BPF_NOEXIST);
		return 0;
	}
	v->count++;
	v->last_pid = pid;
	bpf_get_current_comm(v->comm, sizeof(v->comm));
	btft_flags_var.ready = 1;
	return 0;
}
