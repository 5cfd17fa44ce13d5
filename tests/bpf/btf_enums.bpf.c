// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Enum signedness for tests/test_btf.py: a signed enum (a negative enumerator)
 * and an unsigned one, in a map value and as global variables. clang < 15 marks
 * neither (no kind_flag): only the negative value tells them apart, and
 * libbpf_py.btf and the map/skeleton codecs must read both the same way. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum btfe_signed { BTFE_NEG = -2, BTFE_ZERO = 0, BTFE_POS = 3 };
enum btfe_unsigned { BTFE_ONE = 1, BTFE_MAX = 0x7fffffff };

struct btfe_value {
	enum btfe_signed s;
	enum btfe_unsigned u;
};

enum btfe_signed btfe_global_s = BTFE_NEG;	/* .data */
enum btfe_unsigned btfe_global_u = BTFE_MAX;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct btfe_value);
} btfe_values SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int btfe_getppid(void *ctx)
{
	__u32 key = 0;
	struct btfe_value *v = bpf_map_lookup_elem(&btfe_values, &key);

	if (v) {
		v->s = btfe_global_s;
		v->u = btfe_global_u;
	}
	return 0;
}
