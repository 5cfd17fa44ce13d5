// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The same pinned map name with a different value size: must not be reused. */
#define VALUE_TYPE __u32
#include "pinned.bpf.c"
