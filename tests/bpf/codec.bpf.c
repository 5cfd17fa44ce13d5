// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* BTF-typed map values for tests/test_codec.py: a struct with signed and
 * unsigned ints, char and int arrays, bitfields (ctypes-laid and property ones),
 * a nested struct, an enum, a _Bool, floats and an anonymous union; per-CPU
 * arrays of a 4-byte int (padded slots) and of a struct. The XDP program, run
 * with test_run, writes one value from the kernel side. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum codec_mode { CODEC_OFF = 0, CODEC_ON = 1, CODEC_NEG = -2 };

struct codec_inner {
	__u16 a;
	__s8 b;
};

struct codec_rich {
	__u32 u;
	__s32 s;
	__s64 big;
	char name[8];
	__u8 raw[3];
	__u8 small;
	__u32 flag: 1;
	__u32 mode3: 3;
	__s32 sdelta: 5;
	__u32 rest: 23;
	struct codec_inner inner;
	__s16 arr[3];
	enum codec_mode mode;
	_Bool on;
	__u8 kind;
	__u32 lo: 4;		/* its storage unit overlaps `kind`: a property */
	__u32 hi: 20;
	float f;
	double d;
	union {
		__u32 as_u32;
		__u8 as_bytes[4];
	};
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct codec_rich);
} rich SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __s32);
} pcpu_s32 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct codec_inner);
} pcpu_inner SEC(".maps");

/* every field a kind the compiled dict packer (_speedups.Plan) takes: ints of each
 * width and sign, bitfields, a _Bool, a char array */
struct codec_flat {
	__u32 a;
	__s32 b;
	char name[8];
	__u32 flag: 1;
	__u32 m3: 3;
	__s32 d5: 5;
	__u32 wide: 23;
	_Bool on;
	__s8 s8;
	__u16 u16;
	__s64 big;
	__u64 ubig;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct codec_flat);
} flat SEC(".maps");

SEC("xdp")
int codec_fill(struct xdp_md *ctx)
{
	__u32 key = 1;
	struct codec_rich r = {};

	r.u = 0xfffffffe;
	r.s = -123456;
	r.big = -(1LL << 40);
	__builtin_memcpy(r.name, "abcdefgh", 8);	/* fills the array: no NUL */
	r.raw[0] = 1;
	r.raw[2] = 255;
	r.small = 7;
	r.flag = 1;
	r.mode3 = 5;
	r.sdelta = -9;
	r.rest = 0x7fffff;
	r.inner.a = 65535;
	r.inner.b = -128;
	r.arr[0] = -1;
	r.arr[1] = 32767;
	r.arr[2] = -32768;
	r.mode = CODEC_NEG;
	r.on = 1;
	r.kind = 3;
	r.lo = 9;
	r.hi = 0xabcde;
	r.as_u32 = 0x01020304;
	bpf_map_update_elem(&rich, &key, &r, BPF_ANY);
	return XDP_PASS;
}
