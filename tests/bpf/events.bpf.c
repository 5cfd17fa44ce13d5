// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Producers and a consumer for the events tests (tests/test_events.py).
 *
 * On every getpid() of the test's own process (ev_config.tgid), the program
 * emits ev_config.count records of 64 bytes into the rings ev_config.mode selects
 * (ring_a, ring_b, the perf buffer), and drains the user ring buffer into
 * the ev_ustats map. Sequence numbers go on across calls, one counter per
 * destination, so the tests can check order and completeness.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MODE_RING_A 1
#define MODE_RING_B 2
#define MODE_PERF 4
#define MODE_DRAIN_USER 8
#define MODE_SMALL 16

#define PERF_MAX 1024

struct ev_event {
	__u32 ring;		/* 0: ring_a, 1: ring_b, 2: perf */
	__u32 seq;
	__u64 tgid_pid;
	__u8 payload[48];
};

/* puts struct ev_event into the BTF, for RingBuffer(..., record="struct ev_event") */
struct ev_event *ev_event_type __attribute__((unused));

struct ev_config {
	__u32 tgid;
	__u32 count;
	__u32 mode;
	__u32 pad;
};

struct ev_counters {
	__u64 seq[3];		/* next sequence number per destination */
	__u64 dropped[3];	/* reserve/output failures (ring full) */
};

struct ev_ustats {
	__u64 count;
	__u64 sum;
	__u64 last;
	__u64 bad;		/* samples of the wrong size */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_config);
} ev_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_counters);
} ev_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ev_ustats);
} ev_ustats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ring_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} ring_b SEC(".maps");

/* one page: records of 8 to 64 bytes and discarded ones wrap around its end often
 * (MODE_SMALL; RingBuffer reads them in place, through the double mapping) */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} ring_small SEC(".maps");

__u64 small_seq;
__u64 small_dropped;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} uring SEC(".maps");

struct loop_ctx {
	struct ev_counters *c;
	__u64 tgid_pid;
	__u32 mode;
};

static void emit(void *ring, __u32 which, struct loop_ctx *lc)
{
	struct ev_event *e;

	e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lc->c->dropped[which], 1);
		return;
	}
	e->ring = which;
	e->seq = lc->c->seq[which]++;
	e->tgid_pid = lc->tgid_pid;
	__builtin_memset(e->payload, 0xab, sizeof(e->payload));
	bpf_ringbuf_submit(e, 0);
}

static long emit_one(__u32 index, void *data)
{
	struct loop_ctx *lc = data;

	if (lc->mode & MODE_RING_A)
		emit(&ring_a, 0, lc);
	if (lc->mode & MODE_RING_B)
		emit(&ring_b, 1, lc);
	return 0;
}

/* record `seq`: 8 * (1 + seq % 8) bytes, each 8-byte word `seq`; after every third
 * one a discarded 16-byte record */
static long emit_small(__u32 index, void *data)
{
	__u64 words[8];
	__u64 seq = small_seq++;
	__u32 len = 8 * (1 + (seq & 7));
	__u64 *d;
	int i;

	for (i = 0; i < 8; i++)
		words[i] = seq;
	if (len > sizeof(words))
		return 1;
	if (bpf_ringbuf_output(&ring_small, words, len, 0))
		small_dropped++;
	if (seq % 3 == 2) {
		d = bpf_ringbuf_reserve(&ring_small, 16, 0);
		if (d)
			bpf_ringbuf_discard(d, 0);
	}
	return 0;
}

struct drain_ctx {
	struct ev_ustats *u;
};

static long drain_one(struct bpf_dynptr *dynptr, void *data)
{
	struct drain_ctx *dc = data;
	struct ev_ustats *u = dc->u;
	__u64 value;

	if (bpf_dynptr_read(&value, sizeof(value), dynptr, 0, 0)) {
		u->bad++;
		return 0;
	}
	u->count++;
	u->sum += value;
	u->last = value;
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	__u64 tgid_pid = bpf_get_current_pid_tgid();
	struct loop_ctx lc = {};
	struct ev_config *cfg;
	struct ev_counters *c;
	struct ev_ustats *u;
	__u32 zero = 0, i, n;

	cfg = bpf_map_lookup_elem(&ev_config, &zero);
	c = bpf_map_lookup_elem(&ev_counters, &zero);
	u = bpf_map_lookup_elem(&ev_ustats, &zero);
	if (!cfg || !c || !u || cfg->tgid != (tgid_pid >> 32))
		return 0;

	lc.c = c;
	lc.tgid_pid = tgid_pid;
	lc.mode = cfg->mode;
	if (cfg->mode & (MODE_RING_A | MODE_RING_B))
		bpf_loop(cfg->count, emit_one, &lc, 0);

	if (cfg->mode & MODE_PERF) {
		struct ev_event e = {};

		n = cfg->count;
		e.ring = 2;
		e.tgid_pid = tgid_pid;
		for (i = 0; i < PERF_MAX && i < n; i++) {
			e.seq = c->seq[2]++;
			if (bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &e, sizeof(e)))
				c->dropped[2]++;
		}
	}

	if (cfg->mode & MODE_SMALL)
		bpf_loop(cfg->count, emit_small, NULL, 0);

	if (cfg->mode & MODE_DRAIN_USER) {
		struct drain_ctx dc = { .u = u };

		bpf_user_ringbuf_drain(&uring, drain_one, &dc, 0);
	}
	return 0;
}
