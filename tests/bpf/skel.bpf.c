// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Skeleton tests: every kind of data section, BTF layouts Python must decode
 * exactly (bitfields, anonymous members, keyword names, nested arrays, enums),
 * and tracepoints that count this test's getpid() calls into .bss. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum shade { SHADE_DARK = -2, SHADE_NONE = 0, SHADE_LIGHT = 3 };

struct layout {
	__u8 kind;
	__u32 lo: 4;		/* shares its unit with 'kind': a property */
	__u32 hi: 12;
	union {			/* anonymous union */
		__u32 as_u32;
		__u8 as_bytes[4];
	};
	struct {		/* anonymous struct */
		__u16 x;
		__u16 y;
	};
	__u32 class;		/* Python keyword */
	__s8 grid[2][3];
	enum shade shade;
	__s32 neg: 5;		/* a unit of its own: a ctypes bitfield */
	__u32 big: 27;
	__u64 tail;
};

/* .rodata knobs, set from Python before load */
const volatile __u32 target_pid = 0;
const volatile __u64 step = 1;
const volatile struct layout ro_layout = { .kind = 9, .lo = 5 };

/* .bss: written by the programs */
__u64 counter = 0;
__u64 ppid_calls = 0;
struct layout seen = {};

/* 2-D char arrays: each row reads as a ctypes char array object of its own */
char names[2][4] = {};
const volatile char ro_names[2][4] = { "ab", "cd" };

/* .data */
__u32 lambda = 3;
struct layout init = { .kind = 1, .lo = 15, .hi = 4095, .as_u32 = 0x01020304, .x = 7,
		       .y = 8, .class = 42, .grid = { { 1, -2, 3 }, { -4, 5, -6 } },
		       .shade = SHADE_DARK, .neg = -16, .big = 123456, .tail = 99 };

/* custom sections, and one whose only variable is static (no fields) */
__u32 custom_hits SEC(".data.custom") = 11;
const volatile __u32 custom_knob SEC(".rodata.custom") = 12;
static __u32 hidden_only SEC(".data.quiet") = 5;

static __u64 hidden = 1;	/* static: not exposed, as in bpftool */

extern unsigned int LINUX_KERNEL_VERSION __kconfig;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} kver SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int count_getpid(void *ctx)
{
	__u32 zero = 0;
	__u64 v = LINUX_KERNEL_VERSION;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	__sync_fetch_and_add(&counter, step);
	custom_hits += custom_knob + hidden + hidden_only;
	seen = init;
	seen.neg = -3;
	seen.lo = ro_layout.lo;
	seen.big = lambda;
	bpf_map_update_elem(&kver, &zero, &v, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == target_pid)
		__sync_fetch_and_add(&ppid_calls, 1);
	return 0;
}
