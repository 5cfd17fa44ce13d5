"""Project shims for ring and perf buffers (no libbpf API of its own).

``libbpf_py_ring_sample`` is the one sample callback libbpf_py gives
``ring_buffer__new`` / ``ring_buffer__add``. Its ``ctx`` is a
``struct libbpf_py_ring_ctx``, whose ``batch`` (shared by the rings of one
ring buffer, never NULL) also counts the records handed to Python
(``delivered``). Unless the batch is active it
calls the ``extern "Python"`` trampoline ``libbpf_py_ring_buffer_sample_cb``
with the ring's Python handle; while a batch drain runs it copies the record
into the batch in C, with no Python call per record.

The batch's memory is allocated by Python and sized so that a record never
has to be dropped: ``data`` holds ``max_bytes`` plus the largest ring's size,
``offsets`` ``max_records + 1`` entries. After storing a record, the callback
stops consumption (returns -1, libbpf has then already advanced the consumer
past that record, which is stored) once ``max_records`` or ``max_bytes`` is
reached, and sets ``full``.

``libbpf_py_perf_event`` is the ``perf_buffer_event_fn`` given to
``perf_buffer__new_raw``: it parses PERF_RECORD_SAMPLE (raw data) and
PERF_RECORD_LOST and calls the ``extern "Python"`` trampolines
``libbpf_py_perf_buffer_sample_cb`` / ``libbpf_py_perf_buffer_lost_cb``. Once
``stop`` is set (a Python callback raised or asked to stop) it returns
LIBBPF_PERF_EVENT_DONE, so libbpf stops reading that CPU's buffer. libbpf
consumes the record it stops at (``perf_event_read_simple`` advances the tail
before it checks the return), so the Python side keeps a copy of a record
that arrives while ``stop`` is set and delivers it first next time; the
later records stay in the kernel buffer: nothing is lost. ``serial`` numbers
the records handed to Python: the Python side keeps a record under its
number, so keeping it twice (a signal's exception raised during the first
keep) keeps it once.
"""

from typing import Dict, Tuple

INCLUDES = """
#include <errno.h>
#include <string.h>
"""

TYPES = """
struct libbpf_py_batch {
    int active;
    int full;
    size_t max_records;
    size_t max_bytes;
    char *data;
    size_t len;
    __u32 *offsets;
    __u32 *rings;
    size_t count;
    size_t delivered;
    ...;
};

struct libbpf_py_ring_ctx {
    void *handle;
    struct libbpf_py_batch *batch;
    unsigned int ring;
    ...;
};

struct libbpf_py_perf_ctx {
    void *handle;
    int stop;
    size_t samples;
    __u64 serial;
    __u64 lost_total;
    ...;
};

int libbpf_py_ring_sample(void *, void *, size_t);
enum bpf_perf_event_ret libbpf_py_perf_event(void *, int, struct perf_event_header *);
"""

FUNCTIONS = ""

CUSTOMIZATIONS = """
static int libbpf_py_ring_buffer_sample_cb(void *ctx, void *data, size_t size);
static void libbpf_py_perf_buffer_sample_cb(void *ctx, int cpu, void *data, __u32 size);
static void libbpf_py_perf_buffer_lost_cb(void *ctx, int cpu, __u64 cnt);

struct libbpf_py_batch {
    int active;             /* records go here, not to Python */
    int full;               /* stopped because a limit was reached */
    size_t max_records;     /* stop once this many records are stored */
    size_t max_bytes;       /* stop once this many bytes are stored */
    char *data;             /* records, back to back: max_bytes + largest ring size */
    size_t len;             /* bytes used in data */
    __u32 *offsets;         /* max_records + 1 entries: record i is data[offsets[i]:offsets[i+1]] */
    __u32 *rings;           /* max_records entries: the ring each record came from */
    size_t count;           /* records stored */
    size_t delivered;       /* records handed to Python (outside batches) */
};

struct libbpf_py_ring_ctx {
    void *handle;                   /* ffi.new_handle() of the ring's Python sink */
    struct libbpf_py_batch *batch;  /* the ring buffer's batch (never NULL) */
    unsigned int ring;              /* the ring's index in its ring buffer */
};

struct libbpf_py_perf_ctx {
    void *handle;        /* ffi.new_handle() of the perf buffer's Python sink */
    int stop;            /* leave every further record in the kernel buffer */
    size_t samples;      /* samples handed to Python */
    __u64 serial;     /* the number of the record being handed to Python (its key) */
    __u64 lost_total; /* samples the kernel reported lost, counted here: once */
};

static int libbpf_py_ring_sample(void *ctx, void *data, size_t size)
{
    struct libbpf_py_ring_ctx *c = ctx;
    struct libbpf_py_batch *b = c->batch;

    if (!b->active) {
        b->delivered++;
        return libbpf_py_ring_buffer_sample_cb(c->handle, data, size);
    }
    if (b->count >= b->max_records || b->len >= b->max_bytes) {
        /* cannot happen: consumption stops at the limit; never overrun */
        b->full = 1;
        return -ENOSPC;
    }
    memcpy(b->data + b->len, data, size);
    b->offsets[b->count] = (__u32)b->len;
    b->rings[b->count] = c->ring;
    b->len += size;
    b->count++;
    b->offsets[b->count] = (__u32)b->len;
    if (b->count >= b->max_records || b->len >= b->max_bytes) {
        b->full = 1;
        return -1;  /* stored: libbpf stops with the consumer past this record */
    }
    return 0;
}

struct libbpf_py_perf_sample {
    struct perf_event_header header;
    __u32 size;
    char data[];
};

struct libbpf_py_perf_lost {
    struct perf_event_header header;
    __u64 id;
    __u64 lost;
};

static enum bpf_perf_event_ret libbpf_py_perf_event(void *ctx, int cpu,
                                                    struct perf_event_header *event)
{
    struct libbpf_py_perf_ctx *c = ctx;

    switch (event->type) {
    case PERF_RECORD_SAMPLE: {
        struct libbpf_py_perf_sample *s = (void *)event;

        c->serial++;
        if (!c->stop)
            c->samples++;   /* else Python keeps it for later */
        libbpf_py_perf_buffer_sample_cb(c->handle, cpu, s->data, s->size);
        break;
    }
    case PERF_RECORD_LOST: {
        struct libbpf_py_perf_lost *l = (void *)event;

        c->serial++;
        c->lost_total += l->lost;
        libbpf_py_perf_buffer_lost_cb(c->handle, cpu, l->lost);
        break;
    }
    default:
        break;
    }
    /* libbpf consumes the record at which we stop: Python has kept it */
    return c->stop ? LIBBPF_PERF_EVENT_DONE : LIBBPF_PERF_EVENT_CONT;
}
"""

#: exported libbpf symbols this area does not declare, with the reason
UNDECLARED: Dict[str, Tuple[str, str]] = {}
