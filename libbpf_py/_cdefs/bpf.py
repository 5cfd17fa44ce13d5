"""bpf.h: the low-level syscall wrappers.

Signatures follow libbpf 1.5. Where a parameter lost its ``const`` since 1.1
(``bpf_prog_load``, ``bpf_btf_load``: libbpf writes ``log_true_size`` back),
the declaration takes the non-const pointer, which the 1.1 headers accept too.
"""

from typing import Dict, Tuple

INCLUDES = """
#include <bpf/bpf.h>
"""

TYPES = """
#define BPF_LOG_BUF_SIZE ...

// project shim (CUSTOMIZATIONS below): publish the table libbpf_py._speedups calls
int libbpf_py_speedups_export(void);

struct bpf_map_create_opts {
    size_t sz;
    __u32 btf_fd;
    __u32 btf_key_type_id;
    __u32 btf_value_type_id;
    __u32 btf_vmlinux_value_type_id;
    __u32 inner_map_fd;
    __u32 map_flags;
    __u64 map_extra;
    __u32 numa_node;
    __u32 map_ifindex;
    __s32 value_type_btf_obj_fd;            // @LIBBPF_1.4.0
    __u32 token_fd;                         // @LIBBPF_1.4.0
    ...;
};

struct bpf_prog_load_opts {
    size_t sz;
    int attempts;
    enum bpf_attach_type expected_attach_type;
    __u32 prog_btf_fd;
    __u32 prog_flags;
    __u32 prog_ifindex;
    __u32 kern_version;
    __u32 attach_btf_id;
    __u32 attach_prog_fd;
    __u32 attach_btf_obj_fd;
    const int *fd_array;
    const void *func_info;
    __u32 func_info_cnt;
    __u32 func_info_rec_size;
    const void *line_info;
    __u32 line_info_cnt;
    __u32 line_info_rec_size;
    __u32 log_level;
    __u32 log_size;
    char *log_buf;
    __u32 log_true_size;                    // @LIBBPF_1.4.0
    __u32 token_fd;                         // @LIBBPF_1.4.0
    __u32 fd_array_cnt;                     // @LIBBPF_1.6.0
    ...;
};

struct bpf_btf_load_opts {
    size_t sz;
    char *log_buf;
    __u32 log_level;
    __u32 log_size;
    __u32 log_true_size;                    // @LIBBPF_1.4.0
    __u32 btf_flags;                        // @LIBBPF_1.4.0
    __u32 token_fd;                         // @LIBBPF_1.4.0
    ...;
};

struct bpf_map_batch_opts {
    size_t sz;
    __u64 elem_flags;
    __u64 flags;
    ...;
};

struct bpf_obj_get_opts {
    size_t sz;
    __u32 file_flags;
    int path_fd;                            // @LIBBPF_1.3.0
    ...;
};

struct bpf_prog_attach_opts {
    size_t sz;
    __u32 flags;
    int replace_prog_fd;
    int replace_fd;                         // @LIBBPF_1.3.0
    int relative_fd;                        // @LIBBPF_1.3.0
    __u32 relative_id;                      // @LIBBPF_1.3.0
    __u64 expected_revision;                // @LIBBPF_1.3.0
    ...;
};

struct bpf_link_create_opts {
    size_t sz;
    __u32 flags;
    union bpf_iter_link_info *iter_info;
    __u32 iter_info_len;
    __u32 target_btf_id;
    struct { __u64 bpf_cookie; } perf_event;
    struct {
        __u32 flags; __u32 cnt;
        const char **syms; const unsigned long *addrs; const __u64 *cookies;
    } kprobe_multi;
    struct {                                // @LIBBPF_1.3.0
        __u32 flags; __u32 cnt; const char *path; // @LIBBPF_1.3.0
        const unsigned long *offsets;       // @LIBBPF_1.3.0
        const unsigned long *ref_ctr_offsets; // @LIBBPF_1.3.0
        const __u64 *cookies; __u32 pid;    // @LIBBPF_1.3.0
    } uprobe_multi;                         // @LIBBPF_1.3.0
    struct { __u64 cookie; } tracing;
    struct { __u32 pf; __u32 hooknum; __s32 priority; __u32 flags; } netfilter; // @LIBBPF_1.3.0
    struct {                                // @LIBBPF_1.3.0
        __u32 relative_fd; __u32 relative_id; __u64 expected_revision; // @LIBBPF_1.3.0
    } tcx;                                  // @LIBBPF_1.3.0
    struct {                                // @LIBBPF_1.3.0
        __u32 relative_fd; __u32 relative_id; __u64 expected_revision; // @LIBBPF_1.3.0
    } netkit;                               // @LIBBPF_1.3.0
    ...;
};

struct bpf_link_update_opts {
    size_t sz;
    __u32 flags;
    __u32 old_prog_fd;
    __u32 old_map_fd;                       // @LIBBPF_1.4.0
    ...;
};

struct bpf_get_fd_by_id_opts {
    size_t sz;
    __u32 open_flags;
    ...;
};

struct bpf_prog_query_opts {
    size_t sz;
    __u32 query_flags;
    __u32 attach_flags;
    __u32 *prog_ids;
    __u32 prog_cnt;
    __u32 count;                            // @LIBBPF_1.3.0
    __u32 *prog_attach_flags;
    __u32 *link_ids;                        // @LIBBPF_1.3.0
    __u32 *link_attach_flags;               // @LIBBPF_1.3.0
    __u64 revision;                         // @LIBBPF_1.3.0
    ...;
};

struct bpf_prog_bind_opts {
    size_t sz;
    __u32 flags;
    ...;
};

struct bpf_test_run_opts {
    size_t sz;
    const void *data_in;
    void *data_out;
    __u32 data_size_in;
    __u32 data_size_out;
    const void *ctx_in;
    void *ctx_out;
    __u32 ctx_size_in;
    __u32 ctx_size_out;
    __u32 retval;
    int repeat;
    __u32 duration;
    __u32 flags;
    __u32 cpu;
    __u32 batch_size;
    ...;
};

@LIBBPF_1.3.0
struct bpf_obj_pin_opts {
    size_t sz;
    __u32 file_flags;
    int path_fd;
    ...;
};

struct bpf_prog_detach_opts {
    size_t sz;
    __u32 flags;
    int relative_fd;
    __u32 relative_id;
    __u64 expected_revision;
    ...;
};

@LIBBPF_1.4.0
struct bpf_raw_tp_opts {
    size_t sz;
    const char *tp_name;
    __u64 cookie;
    ...;
};

struct bpf_token_create_opts {
    size_t sz;
    __u32 flags;
    ...;
};

@LIBBPF_1.6.0
struct bpf_prog_stream_read_opts {
    size_t sz;
    ...;
};

@LIBBPF_1.7.0
struct bpf_prog_assoc_struct_ops_opts {
    size_t sz;
    __u32 flags;
    ...;
};
"""

FUNCTIONS = """
// maps by fd: create, elements, batches, freeze
@LIBBPF_0.0.1
int bpf_map_delete_elem(int, const void *);
int bpf_map_get_next_key(int, const void *, void *);
int bpf_map_lookup_and_delete_elem(int, const void *, void *);
int bpf_map_lookup_elem(int, const void *, void *);
int bpf_map_update_elem(int, const void *, const void *, __u64);
@LIBBPF_0.0.2
int bpf_map_lookup_elem_flags(int, const void *, void *, __u64);
@LIBBPF_0.0.3
int bpf_map_freeze(int);
@LIBBPF_0.0.7
int bpf_map_delete_batch(int, const void *, __u32 *, const struct bpf_map_batch_opts *);
int bpf_map_lookup_and_delete_batch(int, void *, void *, void *, void *, __u32 *,
                                    const struct bpf_map_batch_opts *);
int bpf_map_lookup_batch(int, void *, void *, void *, void *, __u32 *,
                         const struct bpf_map_batch_opts *);
int bpf_map_update_batch(int, const void *, const void *, __u32 *,
                         const struct bpf_map_batch_opts *);
@LIBBPF_0.5.0
int bpf_map_lookup_and_delete_elem_flags(int, const void *, void *, __u64);
@LIBBPF_0.6.0
int bpf_map_create(enum bpf_map_type, const char *, __u32, __u32, __u32,
                   const struct bpf_map_create_opts *);
@LIBBPF_0.8.0
int bpf_map_delete_elem_flags(int, const void *, __u64);

// programs by fd: load, attach to a target fd, query, test run
@LIBBPF_0.0.1
int bpf_prog_attach(int, int, enum bpf_attach_type, unsigned int);
int bpf_prog_detach(int, enum bpf_attach_type);
int bpf_prog_detach2(int, int, enum bpf_attach_type);
int bpf_prog_query(int, enum bpf_attach_type, __u32, __u32 *, __u32 *, __u32 *);
@LIBBPF_0.0.8
int bpf_prog_attach_opts(int, int, enum bpf_attach_type, const struct bpf_prog_attach_opts *);
@LIBBPF_0.2.0
int bpf_prog_bind_map(int, int, const struct bpf_prog_bind_opts *);
int bpf_prog_test_run_opts(int, struct bpf_test_run_opts *);
@LIBBPF_0.6.0
int bpf_prog_load(enum bpf_prog_type, const char *, const char *, const struct bpf_insn *, size_t,
                  struct bpf_prog_load_opts *);
@LIBBPF_1.0.0
int bpf_prog_query_opts(int, enum bpf_attach_type, struct bpf_prog_query_opts *);
@LIBBPF_1.3.0
int bpf_prog_detach_opts(int, int, enum bpf_attach_type, const struct bpf_prog_detach_opts *);
@LIBBPF_1.7.0
int bpf_prog_assoc_struct_ops(int, int, struct bpf_prog_assoc_struct_ops_opts *);

// links by fd
@LIBBPF_0.0.8
int bpf_link_create(int, int, enum bpf_attach_type, const struct bpf_link_create_opts *);
int bpf_link_update(int, int, const struct bpf_link_update_opts *);
@LIBBPF_0.0.9
int bpf_iter_create(int);
@LIBBPF_0.1.0
int bpf_link_detach(int);

// raw tracepoints
@LIBBPF_0.0.1
int bpf_raw_tracepoint_open(const char *, int);
@LIBBPF_1.4.0
int bpf_raw_tracepoint_open_opts(int, struct bpf_raw_tp_opts *);

// BTF objects by fd
@LIBBPF_0.7.0
int bpf_btf_load(const void *, size_t, struct bpf_btf_load_opts *);

// bpffs: pin and get
@LIBBPF_0.0.1
int bpf_obj_get(const char *);
int bpf_obj_pin(int, const char *);
@LIBBPF_1.0.0
int bpf_obj_get_opts(const char *, const struct bpf_obj_get_opts *);
@LIBBPF_1.3.0
int bpf_obj_pin_opts(int, const char *, const struct bpf_obj_pin_opts *);

// kernel objects by id: iterate ids, open an fd
@LIBBPF_0.0.1
int bpf_btf_get_fd_by_id(__u32);
int bpf_map_get_fd_by_id(__u32);
int bpf_map_get_next_id(__u32, __u32 *);
int bpf_prog_get_fd_by_id(__u32);
int bpf_prog_get_next_id(__u32, __u32 *);
@LIBBPF_0.0.5
int bpf_btf_get_next_id(__u32, __u32 *);
@LIBBPF_0.0.9
int bpf_link_get_fd_by_id(__u32);
int bpf_link_get_next_id(__u32, __u32 *);
@LIBBPF_1.1.0
int bpf_btf_get_fd_by_id_opts(__u32, const struct bpf_get_fd_by_id_opts *);
int bpf_link_get_fd_by_id_opts(__u32, const struct bpf_get_fd_by_id_opts *);
int bpf_map_get_fd_by_id_opts(__u32, const struct bpf_get_fd_by_id_opts *);
int bpf_prog_get_fd_by_id_opts(__u32, const struct bpf_get_fd_by_id_opts *);

// object info by fd
@LIBBPF_0.0.1
int bpf_obj_get_info_by_fd(int, void *, __u32 *);
@LIBBPF_1.2.0
int bpf_btf_get_info_by_fd(int, struct bpf_btf_info *, __u32 *);
int bpf_link_get_info_by_fd(int, struct bpf_link_info *, __u32 *);
int bpf_map_get_info_by_fd(int, struct bpf_map_info *, __u32 *);
int bpf_prog_get_info_by_fd(int, struct bpf_prog_info *, __u32 *);

// system-wide: task fd query, stats, memlock limit, BPF tokens
@LIBBPF_0.0.1
int bpf_task_fd_query(int, int, __u32, char *, __u32 *, __u32 *, __u32 *, __u64 *, __u64 *);
@LIBBPF_0.0.9
int bpf_enable_stats(enum bpf_stats_type);
@LIBBPF_0.7.0
// exported under LIBBPF_0.7.0, but hidden (no LIBBPF_API) before libbpf 1.4
int libbpf_set_memlock_rlim(size_t);        // @LIBBPF_1.4.0
@LIBBPF_1.4.0
int bpf_token_create(int, struct bpf_token_create_opts *);
// BPF streams: a program's stdout (1) and stderr (2)
@LIBBPF_1.6.0
int bpf_prog_stream_read(int, __u32, void *, __u32, struct bpf_prog_stream_read_opts *);
"""

# The function table libbpf_py._speedups (Map's int element path) takes its libbpf
# calls from, handed over as a PyCapsule (libbpf_py._libbpf._speedups_api) that
# libbpf_py._binding asks this extension to publish at import: _speedups calls this
# build's libbpf (shared or static), links none itself, and finds no symbol by name.
CUSTOMIZATIONS = """
#include "_speedups.h"

static const struct libbpf_py_speedups_api libbpf_py_speedups_table = {
    .magic = LIBBPF_PY_SPEEDUPS_MAGIC,
    .version = LIBBPF_PY_SPEEDUPS_VERSION,
    .size = sizeof(struct libbpf_py_speedups_api),
    .map_lookup_elem = bpf_map_lookup_elem,
    .map_update_elem = bpf_map_update_elem,
    .map_delete_elem = bpf_map_delete_elem,
    .obj_get_info_by_fd = bpf_obj_get_info_by_fd,
    .num_possible_cpus = libbpf_num_possible_cpus,
};

/* Set libbpf_py._libbpf._speedups_api to a capsule of the table; 0, or -1 with
 * the Python error printed (cffi calls C with the GIL released: take it). */
static int libbpf_py_speedups_export(void)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int ret = -1;
    PyObject *mod = PyImport_ImportModule("libbpf_py._libbpf");
    if (mod != NULL) {
        PyObject *cap = PyCapsule_New((void *)&libbpf_py_speedups_table,
                                      LIBBPF_PY_SPEEDUPS_CAPSULE, NULL);
        if (cap != NULL) {
            ret = PyObject_SetAttrString(mod, "_speedups_api", cap);
            Py_DECREF(cap);
        }
        Py_DECREF(mod);
    }
    if (ret < 0)
        PyErr_Print();
    PyGILState_Release(gil);
    return ret;
}
"""

#: exported libbpf symbols this area does not declare, with the reason
UNDECLARED: Dict[str, Tuple[str, str]] = {}
