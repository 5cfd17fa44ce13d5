"""libbpf.h: objects, programs, maps, links, buffers, skeletons, probes.

``libbpf_set_print()`` takes a callback with a ``va_list``, which cffi cannot
express: ``libbpf_py_set_print_hook(mode)`` (below) installs a C printer that
formats each message and hands it to the ``extern "Python"`` callback
``libbpf_py_log_cb(level, msg)``, silences libbpf, or puts back the printer
that was there before.

The ring and perf buffer callbacks also have ``extern "Python"`` trampolines
(``libbpf_py_*_cb``), to be passed with an ``ffi.new_handle()`` as ``ctx``.

Signature kept from libbpf 1.1: ``bpf_map__initial_value()`` returns
``const void *`` from a non-const map (1.5 returns ``void *`` from a const
one); this is the one spelling that both compile without a warning.
"""

from typing import Dict, Tuple

INCLUDES = """
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>
"""

TYPES = """
/* the handles */
struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;
struct bpf_linker;
struct bpf_prog_linfo;
struct ring_buffer;
struct user_ring_buffer;
struct perf_buffer;

/* errors and logging */
enum libbpf_errno {
    __LIBBPF_ERRNO__START,
    LIBBPF_ERRNO__LIBELF,
    LIBBPF_ERRNO__FORMAT,
    LIBBPF_ERRNO__KVERSION,
    LIBBPF_ERRNO__ENDIAN,
    LIBBPF_ERRNO__INTERNAL,
    LIBBPF_ERRNO__RELOC,
    LIBBPF_ERRNO__LOAD,
    LIBBPF_ERRNO__VERIFY,
    LIBBPF_ERRNO__PROG2BIG,
    LIBBPF_ERRNO__KVER,
    LIBBPF_ERRNO__PROGTYPE,
    LIBBPF_ERRNO__WRNGPID,
    LIBBPF_ERRNO__INVSEQ,
    LIBBPF_ERRNO__NLPARSE,
    __LIBBPF_ERRNO__END,
    ...
};

enum libbpf_print_level {
    LIBBPF_WARN,
    LIBBPF_INFO,
    LIBBPF_DEBUG,
    ...
};

/* project shim: libbpf_set_print() with the printer in C */
#define LIBBPF_PY_PRINT_DEFAULT ...
#define LIBBPF_PY_PRINT_PYTHON ...
#define LIBBPF_PY_PRINT_NONE ...
extern "Python" void libbpf_py_log_cb(int, const char *);
int libbpf_py_set_print_hook(int);

/* objects */
struct bpf_object_open_opts {
    size_t sz;
    const char *object_name;
    bool relaxed_maps;
    const char *pin_root_path;
    const char *kconfig;
    const char *btf_custom_path;
    char *kernel_log_buf;
    size_t kernel_log_size;
    __u32 kernel_log_level;
    const char *bpf_token_path;             // @LIBBPF_1.4.0
    ...;
};

/* attach options */
struct bpf_perf_event_opts {
    size_t sz;
    __u64 bpf_cookie;
    bool force_ioctl_attach;                // @LIBBPF_1.4.0
    bool dont_enable;                       // @LIBBPF_1.7.0
    ...;
};

enum probe_attach_mode {                    // @LIBBPF_1.4.0
    PROBE_ATTACH_MODE_DEFAULT,              // @LIBBPF_1.4.0
    PROBE_ATTACH_MODE_LEGACY,               // @LIBBPF_1.4.0
    PROBE_ATTACH_MODE_PERF,                 // @LIBBPF_1.4.0
    PROBE_ATTACH_MODE_LINK,                 // @LIBBPF_1.4.0
    ...                                     // @LIBBPF_1.4.0
};                                          // @LIBBPF_1.4.0

struct bpf_kprobe_opts {
    size_t sz;
    __u64 bpf_cookie;
    size_t offset;
    bool retprobe;
    enum probe_attach_mode attach_mode;     // @LIBBPF_1.4.0
    ...;
};

struct bpf_kprobe_multi_opts {
    size_t sz;
    const char **syms;
    const unsigned long *addrs;
    const __u64 *cookies;
    size_t cnt;
    bool retprobe;
    bool session;                           // @LIBBPF_1.5.0
    bool unique_match;                      // @LIBBPF_1.6.0
    ...;
};

struct bpf_ksyscall_opts {
    size_t sz;
    __u64 bpf_cookie;
    bool retprobe;
    ...;
};

struct bpf_uprobe_opts {
    size_t sz;
    size_t ref_ctr_offset;
    __u64 bpf_cookie;
    bool retprobe;
    const char *func_name;
    enum probe_attach_mode attach_mode;     // @LIBBPF_1.4.0
    ...;
};

struct bpf_usdt_opts {
    size_t sz;
    __u64 usdt_cookie;
    ...;
};

struct bpf_tracepoint_opts {
    size_t sz;
    __u64 bpf_cookie;
    ...;
};

struct bpf_trace_opts {
    size_t sz;
    __u64 cookie;
    ...;
};

struct bpf_iter_attach_opts {
    size_t sz;
    union bpf_iter_link_info *link_info;
    __u32 link_info_len;
    ...;
};

/* XDP and tc */
#define XDP_FLAGS_UPDATE_IF_NOEXIST ...
#define XDP_FLAGS_SKB_MODE ...
#define XDP_FLAGS_DRV_MODE ...
#define XDP_FLAGS_HW_MODE ...
#define XDP_FLAGS_REPLACE ...

struct bpf_xdp_attach_opts {
    size_t sz;
    int old_prog_fd;
    ...;
};

struct bpf_xdp_query_opts {
    size_t sz;
    __u32 prog_id;
    __u32 drv_prog_id;
    __u32 hw_prog_id;
    __u32 skb_prog_id;
    __u8 attach_mode;
    __u64 feature_flags;                    // @LIBBPF_1.4.0
    __u32 xdp_zc_max_segs;                  // @LIBBPF_1.4.0
    ...;
};

enum bpf_tc_attach_point {
    BPF_TC_INGRESS,
    BPF_TC_EGRESS,
    BPF_TC_CUSTOM,
    ...
};

enum bpf_tc_flags {
    BPF_TC_F_REPLACE,
    ...
};

struct bpf_tc_hook {
    size_t sz;
    int ifindex;
    enum bpf_tc_attach_point attach_point;
    __u32 parent;
    ...;
};

struct bpf_tc_opts {
    size_t sz;
    int prog_fd;
    __u32 flags;
    __u32 prog_id;
    __u32 handle;
    __u32 priority;
    ...;
};

/* ring buffers */
typedef int (*ring_buffer_sample_fn)(void *, void *, size_t);

struct ring_buffer_opts {
    size_t sz;
    ...;
};

struct user_ring_buffer_opts {
    size_t sz;
    ...;
};

extern "Python" int libbpf_py_ring_buffer_sample_cb(void *, void *, size_t);

/* perf buffers */
#define PERF_TYPE_HARDWARE ...
#define PERF_TYPE_SOFTWARE ...
#define PERF_TYPE_TRACEPOINT ...
#define PERF_COUNT_SW_CPU_CLOCK ...
#define PERF_COUNT_SW_BPF_OUTPUT ...
#define PERF_SAMPLE_RAW ...
#define PERF_RECORD_LOST ...
#define PERF_RECORD_SAMPLE ...

struct perf_event_header {
    __u32 type;
    __u16 misc;
    __u16 size;
};

struct perf_event_attr {
    __u32 type;
    __u32 size;
    __u64 config;
    __u64 sample_period;
    __u64 sample_freq;
    __u64 sample_type;
    __u64 read_format;
    __u32 wakeup_events;
    __u32 wakeup_watermark;
    ...;
};

typedef void (*perf_buffer_sample_fn)(void *, int, void *, __u32);
typedef void (*perf_buffer_lost_fn)(void *, int, __u64);

struct perf_buffer_opts {
    size_t sz;
    __u32 sample_period;                    // @LIBBPF_1.4.0
    ...;
};

enum bpf_perf_event_ret {
    LIBBPF_PERF_EVENT_DONE,
    LIBBPF_PERF_EVENT_ERROR,
    LIBBPF_PERF_EVENT_CONT,
    ...
};

typedef enum bpf_perf_event_ret (*perf_buffer_event_fn)(void *, int, struct perf_event_header *);

struct perf_buffer_raw_opts {
    size_t sz;
    int cpu_cnt;
    int *cpus;
    int *map_keys;
    ...;
};

extern "Python" void libbpf_py_perf_buffer_sample_cb(void *, int, void *, __u32);
extern "Python" void libbpf_py_perf_buffer_lost_cb(void *, int, __u64);
extern "Python" enum bpf_perf_event_ret libbpf_py_perf_buffer_event_cb(void *, int,
                                                                       struct perf_event_header *);

/* skeletons */
struct bpf_map_skeleton {
    const char *name;
    struct bpf_map **map;
    void **mmaped;
    struct bpf_link **link;                 // @LIBBPF_1.5.0
    ...;
};

struct bpf_prog_skeleton {
    const char *name;
    struct bpf_program **prog;
    struct bpf_link **link;
    ...;
};

struct bpf_object_skeleton {
    size_t sz;
    const char *name;
    const void *data;
    size_t data_sz;
    struct bpf_object **obj;
    int map_cnt;
    int map_skel_sz;
    struct bpf_map_skeleton *maps;
    int prog_cnt;
    int prog_skel_sz;
    struct bpf_prog_skeleton *progs;
    ...;
};

struct bpf_var_skeleton {
    const char *name;
    struct bpf_map **map;
    void **addr;
    ...;
};

struct bpf_object_subskeleton {
    size_t sz;
    const struct bpf_object *obj;
    int map_cnt;
    int map_skel_sz;
    struct bpf_map_skeleton *maps;
    int prog_cnt;
    int prog_skel_sz;
    struct bpf_prog_skeleton *progs;
    int var_cnt;
    int var_skel_sz;
    struct bpf_var_skeleton *vars;
    ...;
};

struct gen_loader_opts {
    size_t sz;
    const char *data;
    const char *insns;
    __u32 data_sz;
    __u32 insns_sz;
    ...;
};

/* probes */
enum libbpf_tristate {
    TRI_NO,
    TRI_YES,
    TRI_MODULE,
    ...
};

/* the static linker */
struct bpf_linker_opts {
    size_t sz;
    ...;
};

struct bpf_linker_file_opts {
    size_t sz;
    ...;
};

/* custom SEC() handlers */
struct bpf_prog_load_opts;
typedef int (*libbpf_prog_setup_fn_t)(struct bpf_program *, long);
typedef int (*libbpf_prog_prepare_load_fn_t)(struct bpf_program *, struct bpf_prog_load_opts *,
                                             long);
typedef int (*libbpf_prog_attach_fn_t)(const struct bpf_program *, long, struct bpf_link **);

struct libbpf_prog_handler_opts {
    size_t sz;
    long cookie;
    libbpf_prog_setup_fn_t prog_setup_fn;
    libbpf_prog_prepare_load_fn_t prog_prepare_load_fn;
    libbpf_prog_attach_fn_t prog_attach_fn;
    ...;
};

@LIBBPF_1.3.0
struct ring;

struct bpf_uprobe_multi_opts {
    size_t sz;
    const char **syms;
    const unsigned long *offsets;
    const unsigned long *ref_ctr_offsets;
    const __u64 *cookies;
    size_t cnt;
    bool retprobe;
    bool session;                           // @LIBBPF_1.6.0
    ...;
};

struct bpf_netfilter_opts {
    size_t sz;
    __u32 pf;
    __u32 hooknum;
    __s32 priority;
    __u32 flags;
    ...;
};

struct bpf_tcx_opts {
    size_t sz;
    __u32 flags;
    __u32 relative_fd;
    __u32 relative_id;
    __u64 expected_revision;
    ...;
};

struct bpf_netkit_opts {
    size_t sz;
    __u32 flags;
    __u32 relative_fd;
    __u32 relative_id;
    __u64 expected_revision;
    ...;
};

@LIBBPF_1.4.0
struct bpf_raw_tracepoint_opts {
    size_t sz;
    __u64 cookie;
    ...;
};

@LIBBPF_1.6.0
struct bpf_cgroup_opts {
    size_t sz;
    __u32 flags;
    __u32 relative_fd;
    __u32 relative_id;
    __u64 expected_revision;
    ...;
};
"""

FUNCTIONS = """
// the library itself: version, errors, type names
@LIBBPF_0.0.1
int libbpf_strerror(int, char *, size_t);
@LIBBPF_0.6.0
__u32 libbpf_major_version(void);
__u32 libbpf_minor_version(void);
const char *libbpf_version_string(void);
@LIBBPF_1.0.0
const char *libbpf_bpf_attach_type_str(enum bpf_attach_type);
const char *libbpf_bpf_link_type_str(enum bpf_link_type);
const char *libbpf_bpf_map_type_str(enum bpf_map_type);
const char *libbpf_bpf_prog_type_str(enum bpf_prog_type);

// section names and kernel BTF ids
@LIBBPF_0.0.1
int libbpf_attach_type_by_name(const char *, enum bpf_attach_type *);
int libbpf_prog_type_by_name(const char *, enum bpf_prog_type *, enum bpf_attach_type *);
@LIBBPF_0.0.6
int libbpf_find_vmlinux_btf_id(const char *, enum bpf_attach_type);
@LIBBPF_0.8.0
int libbpf_register_prog_handler(const char *, enum bpf_prog_type, enum bpf_attach_type,
                                 const struct libbpf_prog_handler_opts *);
int libbpf_unregister_prog_handler(int);

// probes of the running kernel
@LIBBPF_0.0.4
int libbpf_num_possible_cpus(void);
@LIBBPF_0.7.0
int libbpf_probe_bpf_helper(enum bpf_prog_type, enum bpf_func_id, const void *);
int libbpf_probe_bpf_map_type(enum bpf_map_type, const void *);
int libbpf_probe_bpf_prog_type(enum bpf_prog_type, const void *);

// bpf_object__*: open, load, pin, iterate
@LIBBPF_0.0.1
int bpf_object__btf_fd(const struct bpf_object *);
void bpf_object__close(struct bpf_object *);
struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *, const char *);
unsigned int bpf_object__kversion(const struct bpf_object *);
int bpf_object__load(struct bpf_object *);
const char *bpf_object__name(const struct bpf_object *);
struct bpf_object *bpf_object__open(const char *);
int bpf_object__pin(struct bpf_object *, const char *);
int bpf_object__pin_maps(struct bpf_object *, const char *);
int bpf_object__pin_programs(struct bpf_object *, const char *);
int bpf_object__unpin_maps(struct bpf_object *, const char *);
int bpf_object__unpin_programs(struct bpf_object *, const char *);
@LIBBPF_0.0.2
struct btf *bpf_object__btf(const struct bpf_object *);
int bpf_object__find_map_fd_by_name(const struct bpf_object *, const char *);
@LIBBPF_0.0.6
struct bpf_object *bpf_object__open_file(const char *, const struct bpf_object_open_opts *);
struct bpf_object *bpf_object__open_mem(const void *, size_t,
                                        const struct bpf_object_open_opts *);
@LIBBPF_0.0.7
struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *, const char *);
@LIBBPF_0.4.0
int bpf_object__set_kversion(struct bpf_object *, __u32);
@LIBBPF_0.5.0
int bpf_object__gen_loader(struct bpf_object *, struct gen_loader_opts *);
@LIBBPF_0.6.0
struct bpf_map *bpf_object__next_map(const struct bpf_object *, const struct bpf_map *);
struct bpf_program *bpf_object__next_program(const struct bpf_object *, struct bpf_program *);
struct bpf_map *bpf_object__prev_map(const struct bpf_object *, const struct bpf_map *);
struct bpf_program *bpf_object__prev_program(const struct bpf_object *, struct bpf_program *);
@LIBBPF_1.3.0
int bpf_object__unpin(struct bpf_object *, const char *);
@LIBBPF_1.5.0
int bpf_object__token_fd(const struct bpf_object *);
@LIBBPF_1.6.0
int bpf_object__prepare(struct bpf_object *);

// bpf_program__*: properties, load-time settings, pinning
@LIBBPF_0.0.1
int bpf_program__fd(const struct bpf_program *);
int bpf_program__pin(struct bpf_program *, const char *);
int bpf_program__set_expected_attach_type(struct bpf_program *, enum bpf_attach_type);
void bpf_program__set_ifindex(struct bpf_program *, __u32);
int bpf_program__set_type(struct bpf_program *, enum bpf_prog_type);
void bpf_program__unload(struct bpf_program *);
int bpf_program__unpin(struct bpf_program *, const char *);
@LIBBPF_0.0.7
const char *bpf_program__name(const struct bpf_program *);
@LIBBPF_0.0.8
int bpf_program__set_attach_target(struct bpf_program *, int, const char *);
@LIBBPF_1.7.0
int bpf_program__assoc_struct_ops(struct bpf_program *, struct bpf_map *,
                                  struct bpf_prog_assoc_struct_ops_opts *);
@LIBBPF_0.1.0
bool bpf_program__autoload(const struct bpf_program *);
int bpf_program__set_autoload(struct bpf_program *, bool);
@LIBBPF_0.2.0
const char *bpf_program__section_name(const struct bpf_program *);
@LIBBPF_0.6.0
__u32 bpf_program__flags(const struct bpf_program *);
size_t bpf_program__insn_cnt(const struct bpf_program *);
const struct bpf_insn *bpf_program__insns(const struct bpf_program *);
int bpf_program__set_flags(struct bpf_program *, __u32);
@LIBBPF_0.7.0
enum bpf_attach_type bpf_program__expected_attach_type(const struct bpf_program *);
const char *bpf_program__log_buf(const struct bpf_program *, size_t *);
__u32 bpf_program__log_level(const struct bpf_program *);
int bpf_program__set_log_buf(struct bpf_program *, char *, size_t);
int bpf_program__set_log_level(struct bpf_program *, __u32);
enum bpf_prog_type bpf_program__type(const struct bpf_program *);
@LIBBPF_0.8.0
int bpf_program__set_insns(struct bpf_program *, struct bpf_insn *, size_t);
@LIBBPF_1.0.0
bool bpf_program__autoattach(const struct bpf_program *);
void bpf_program__set_autoattach(struct bpf_program *, bool);
@LIBBPF_1.6.0
struct bpf_func_info *bpf_program__func_info(const struct bpf_program *);
__u32 bpf_program__func_info_cnt(const struct bpf_program *);
struct bpf_line_info *bpf_program__line_info(const struct bpf_program *);
__u32 bpf_program__line_info_cnt(const struct bpf_program *);

// bpf_program__attach*: every attach kind returns a bpf_link
@LIBBPF_0.0.4
struct bpf_link *bpf_program__attach_kprobe(const struct bpf_program *, bool, const char *);
struct bpf_link *bpf_program__attach_perf_event(const struct bpf_program *, int);
struct bpf_link *bpf_program__attach_raw_tracepoint(const struct bpf_program *, const char *);
struct bpf_link *bpf_program__attach_tracepoint(const struct bpf_program *, const char *,
                                                const char *);
struct bpf_link *bpf_program__attach_uprobe(const struct bpf_program *, bool, pid_t,
                                            const char *, size_t);
@LIBBPF_0.0.6
struct bpf_link *bpf_program__attach_trace(const struct bpf_program *);
@LIBBPF_0.0.7
struct bpf_link *bpf_program__attach(const struct bpf_program *);
@LIBBPF_0.0.8
struct bpf_link *bpf_program__attach_cgroup(const struct bpf_program *, int);
struct bpf_link *bpf_program__attach_lsm(const struct bpf_program *);
@LIBBPF_0.0.9
struct bpf_link *bpf_program__attach_iter(const struct bpf_program *,
                                          const struct bpf_iter_attach_opts *);
struct bpf_link *bpf_program__attach_netns(const struct bpf_program *, int);
@LIBBPF_0.1.0
struct bpf_link *bpf_program__attach_xdp(const struct bpf_program *, int);
@LIBBPF_0.2.0
struct bpf_link *bpf_program__attach_freplace(const struct bpf_program *, int, const char *);
@LIBBPF_0.5.0
struct bpf_link *bpf_program__attach_kprobe_opts(const struct bpf_program *, const char *,
                                                 const struct bpf_kprobe_opts *);
struct bpf_link *bpf_program__attach_perf_event_opts(const struct bpf_program *, int,
                                                     const struct bpf_perf_event_opts *);
struct bpf_link *bpf_program__attach_tracepoint_opts(const struct bpf_program *, const char *,
                                                     const char *,
                                                     const struct bpf_tracepoint_opts *);
struct bpf_link *bpf_program__attach_uprobe_opts(const struct bpf_program *, pid_t, const char *,
                                                 size_t, const struct bpf_uprobe_opts *);
@LIBBPF_0.8.0
struct bpf_link *bpf_program__attach_kprobe_multi_opts(const struct bpf_program *, const char *,
                                                       const struct bpf_kprobe_multi_opts *);
struct bpf_link *bpf_program__attach_trace_opts(const struct bpf_program *,
                                                const struct bpf_trace_opts *);
struct bpf_link *bpf_program__attach_usdt(const struct bpf_program *, pid_t, const char *,
                                          const char *, const char *,
                                          const struct bpf_usdt_opts *);
@LIBBPF_1.0.0
struct bpf_link *bpf_program__attach_ksyscall(const struct bpf_program *, const char *,
                                              const struct bpf_ksyscall_opts *);
@LIBBPF_1.3.0
struct bpf_link *bpf_program__attach_netfilter(const struct bpf_program *,
                                               const struct bpf_netfilter_opts *);
struct bpf_link *bpf_program__attach_netkit(const struct bpf_program *, int,
                                            const struct bpf_netkit_opts *);
struct bpf_link *bpf_program__attach_tcx(const struct bpf_program *, int,
                                         const struct bpf_tcx_opts *);
struct bpf_link *bpf_program__attach_uprobe_multi(const struct bpf_program *, pid_t,
                                                  const char *, const char *,
                                                  const struct bpf_uprobe_multi_opts *);
@LIBBPF_1.4.0
struct bpf_link *bpf_program__attach_raw_tracepoint_opts(const struct bpf_program *, const char *,
                                                         struct bpf_raw_tracepoint_opts *);
@LIBBPF_1.5.0
struct bpf_link *bpf_program__attach_sockmap(const struct bpf_program *, int);
@LIBBPF_1.6.0
struct bpf_link *bpf_program__attach_cgroup_opts(const struct bpf_program *, int,
                                                 const struct bpf_cgroup_opts *);

// bpf_map__*: properties, settings before load, pinning, elements
@LIBBPF_0.0.1
__u32 bpf_map__btf_key_type_id(const struct bpf_map *);
__u32 bpf_map__btf_value_type_id(const struct bpf_map *);
int bpf_map__fd(const struct bpf_map *);
const char *bpf_map__name(const struct bpf_map *);
int bpf_map__pin(struct bpf_map *, const char *);
int bpf_map__reuse_fd(struct bpf_map *, int);
int bpf_map__set_ifindex(struct bpf_map *, __u32);
int bpf_map__set_inner_map_fd(struct bpf_map *, int);
int bpf_map__unpin(struct bpf_map *, const char *);
@LIBBPF_0.0.3
bool bpf_map__is_internal(const struct bpf_map *);
@LIBBPF_0.0.6
bool bpf_map__is_pinned(const struct bpf_map *);
int bpf_map__set_pin_path(struct bpf_map *, const char *);
@LIBBPF_0.0.7
struct bpf_link *bpf_map__attach_struct_ops(const struct bpf_map *);
@LIBBPF_0.0.8
int bpf_map__set_initial_value(struct bpf_map *, const void *, size_t);
@LIBBPF_0.1.0
__u32 bpf_map__ifindex(const struct bpf_map *);
__u32 bpf_map__key_size(const struct bpf_map *);
__u32 bpf_map__map_flags(const struct bpf_map *);
__u32 bpf_map__max_entries(const struct bpf_map *);
__u32 bpf_map__numa_node(const struct bpf_map *);
int bpf_map__set_key_size(struct bpf_map *, __u32);
int bpf_map__set_map_flags(struct bpf_map *, __u32);
int bpf_map__set_max_entries(struct bpf_map *, __u32);
int bpf_map__set_numa_node(struct bpf_map *, __u32);
int bpf_map__set_type(struct bpf_map *, enum bpf_map_type);
int bpf_map__set_value_size(struct bpf_map *, __u32);
enum bpf_map_type bpf_map__type(const struct bpf_map *);
__u32 bpf_map__value_size(const struct bpf_map *);
@LIBBPF_0.4.0
struct bpf_map *bpf_map__inner_map(struct bpf_map *);
@LIBBPF_0.5.0
const void *bpf_map__initial_value(struct bpf_map *, size_t *);
const char *bpf_map__pin_path(const struct bpf_map *);
@LIBBPF_0.6.0
__u64 bpf_map__map_extra(const struct bpf_map *);
int bpf_map__set_map_extra(struct bpf_map *, __u64);
@LIBBPF_0.8.0
bool bpf_map__autocreate(const struct bpf_map *);
int bpf_map__delete_elem(const struct bpf_map *, const void *, size_t, __u64);
int bpf_map__get_next_key(const struct bpf_map *, const void *, void *, size_t);
int bpf_map__lookup_and_delete_elem(const struct bpf_map *, const void *, size_t, void *, size_t,
                                    __u64);
int bpf_map__lookup_elem(const struct bpf_map *, const void *, size_t, void *, size_t, __u64);
int bpf_map__set_autocreate(struct bpf_map *, bool);
int bpf_map__update_elem(const struct bpf_map *, const void *, size_t, const void *, size_t,
                         __u64);
@LIBBPF_1.5.0
bool bpf_map__autoattach(const struct bpf_map *);
int bpf_map__set_autoattach(struct bpf_map *, bool);
@LIBBPF_1.7.0
struct bpf_program *bpf_map__exclusive_program(struct bpf_map *);
int bpf_map__set_exclusive_program(struct bpf_map *, struct bpf_program *);

// bpf_link__*
@LIBBPF_0.0.4
int bpf_link__destroy(struct bpf_link *);
@LIBBPF_0.0.7
void bpf_link__disconnect(struct bpf_link *);
@LIBBPF_0.0.8
int bpf_link__fd(const struct bpf_link *);
struct bpf_link *bpf_link__open(const char *);
int bpf_link__pin(struct bpf_link *, const char *);
const char *bpf_link__pin_path(const struct bpf_link *);
int bpf_link__unpin(struct bpf_link *);
int bpf_link__update_program(struct bpf_link *, struct bpf_program *);
@LIBBPF_0.1.0
int bpf_link__detach(struct bpf_link *);
@LIBBPF_1.2.0
int bpf_link__update_map(struct bpf_link *, const struct bpf_map *);

// XDP and tc, by ifindex
@LIBBPF_0.4.0
int bpf_tc_attach(const struct bpf_tc_hook *, struct bpf_tc_opts *);
int bpf_tc_detach(const struct bpf_tc_hook *, const struct bpf_tc_opts *);
int bpf_tc_hook_create(struct bpf_tc_hook *);
int bpf_tc_hook_destroy(struct bpf_tc_hook *);
int bpf_tc_query(const struct bpf_tc_hook *, struct bpf_tc_opts *);
@LIBBPF_0.7.0
int bpf_xdp_attach(int, int, __u32, const struct bpf_xdp_attach_opts *);
int bpf_xdp_detach(int, __u32, const struct bpf_xdp_attach_opts *);
int bpf_xdp_query(int, int, struct bpf_xdp_query_opts *);
int bpf_xdp_query_id(int, int, __u32 *);

// ring_buffer__* and ring__*: BPF_MAP_TYPE_RINGBUF consumers
@LIBBPF_0.0.9
int ring_buffer__add(struct ring_buffer *, int, ring_buffer_sample_fn, void *);
int ring_buffer__consume(struct ring_buffer *);
void ring_buffer__free(struct ring_buffer *);
struct ring_buffer *ring_buffer__new(int, ring_buffer_sample_fn, void *,
                                     const struct ring_buffer_opts *);
int ring_buffer__poll(struct ring_buffer *, int);
@LIBBPF_0.3.0
int ring_buffer__epoll_fd(const struct ring_buffer *);
@LIBBPF_1.3.0
struct ring *ring_buffer__ring(struct ring_buffer *, unsigned int);
size_t ring__avail_data_size(const struct ring *);
int ring__consume(struct ring *);
unsigned long ring__consumer_pos(const struct ring *);
int ring__map_fd(const struct ring *);
unsigned long ring__producer_pos(const struct ring *);
size_t ring__size(const struct ring *);
@LIBBPF_1.5.0
int ring_buffer__consume_n(struct ring_buffer *, size_t);
int ring__consume_n(struct ring *, size_t);

// user_ring_buffer__*: BPF_MAP_TYPE_USER_RINGBUF producers
@LIBBPF_1.1.0
void user_ring_buffer__discard(struct user_ring_buffer *, void *);
void user_ring_buffer__free(struct user_ring_buffer *);
struct user_ring_buffer *user_ring_buffer__new(int, const struct user_ring_buffer_opts *);
void *user_ring_buffer__reserve(struct user_ring_buffer *, __u32);
void *user_ring_buffer__reserve_blocking(struct user_ring_buffer *, __u32, int);
void user_ring_buffer__submit(struct user_ring_buffer *, void *);

// perf_buffer__*: BPF_MAP_TYPE_PERF_EVENT_ARRAY consumers
@LIBBPF_0.0.4
void perf_buffer__free(struct perf_buffer *);
int perf_buffer__poll(struct perf_buffer *, int);
@LIBBPF_0.0.9
int perf_buffer__consume(struct perf_buffer *);
@LIBBPF_0.2.0
size_t perf_buffer__buffer_cnt(const struct perf_buffer *);
int perf_buffer__buffer_fd(const struct perf_buffer *, size_t);
int perf_buffer__consume_buffer(struct perf_buffer *, size_t);
int perf_buffer__epoll_fd(const struct perf_buffer *);
@LIBBPF_0.6.0
struct perf_buffer *perf_buffer__new(int, size_t, perf_buffer_sample_fn, perf_buffer_lost_fn,
                                     void *, const struct perf_buffer_opts *);
struct perf_buffer *perf_buffer__new_raw(int, size_t, struct perf_event_attr *,
                                         perf_buffer_event_fn, void *,
                                         const struct perf_buffer_raw_opts *);
@LIBBPF_1.0.0
int perf_buffer__buffer(struct perf_buffer *, int, void **, size_t *);

// skeletons and subskeletons
@LIBBPF_0.0.7
int bpf_object__attach_skeleton(struct bpf_object_skeleton *);
void bpf_object__destroy_skeleton(struct bpf_object_skeleton *);
void bpf_object__detach_skeleton(struct bpf_object_skeleton *);
int bpf_object__load_skeleton(struct bpf_object_skeleton *);
int bpf_object__open_skeleton(struct bpf_object_skeleton *, const struct bpf_object_open_opts *);
@LIBBPF_0.8.0
void bpf_object__destroy_subskeleton(struct bpf_object_subskeleton *);
int bpf_object__open_subskeleton(struct bpf_object_subskeleton *);

// bpf_prog_linfo__*: line info of a loaded program
@LIBBPF_0.0.1
void bpf_prog_linfo__free(struct bpf_prog_linfo *);
const struct bpf_line_info *bpf_prog_linfo__lfind(const struct bpf_prog_linfo *, __u32, __u32);
const struct bpf_line_info *bpf_prog_linfo__lfind_addr_func(const struct bpf_prog_linfo *, __u64,
                                                            __u32, __u32);
struct bpf_prog_linfo *bpf_prog_linfo__new(const struct bpf_prog_info *);

// bpf_linker__*: the static BPF linker
@LIBBPF_0.4.0
int bpf_linker__add_file(struct bpf_linker *, const char *, const struct bpf_linker_file_opts *);
int bpf_linker__finalize(struct bpf_linker *);
void bpf_linker__free(struct bpf_linker *);
struct bpf_linker *bpf_linker__new(const char *, struct bpf_linker_opts *);
@LIBBPF_1.6.0
int bpf_linker__add_buf(struct bpf_linker *, void *, size_t, const struct bpf_linker_file_opts *);
int bpf_linker__add_fd(struct bpf_linker *, int, const struct bpf_linker_file_opts *);
struct bpf_linker *bpf_linker__new_fd(int, struct bpf_linker_opts *);
"""

CUSTOMIZATIONS = """
static void libbpf_py_log_cb(int level, const char *msg);

#define LIBBPF_PY_PRINT_DEFAULT 0   /* the printer libbpf had before the first hook */
#define LIBBPF_PY_PRINT_PYTHON 1    /* format in C, pass to libbpf_py_log_cb() */
#define LIBBPF_PY_PRINT_NONE 2      /* no output */

static libbpf_print_fn_t libbpf_py_saved_print;
static int libbpf_py_print_saved;
static int libbpf_py_print_mode = LIBBPF_PY_PRINT_DEFAULT;

static int libbpf_py_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
    char buf[1024];
    char *text = libbpf_py_vformat(buf, sizeof(buf), fmt, args);

    if (text == NULL)
        return 0;
    libbpf_py_log_cb((int)level, text);
    if (text != buf)
        free(text);
    return 0;
}

/* Switch libbpf's print callback; return the previous mode, or -1 for an unknown mode. */
static int libbpf_py_set_print_hook(int mode)
{
    libbpf_print_fn_t fn, old;
    int prev = libbpf_py_print_mode;

    switch (mode) {
    case LIBBPF_PY_PRINT_DEFAULT:
        if (!libbpf_py_print_saved)
            return prev;    /* never replaced: libbpf's printer is still in place */
        fn = libbpf_py_saved_print;
        break;
    case LIBBPF_PY_PRINT_PYTHON:
        fn = libbpf_py_print;
        break;
    case LIBBPF_PY_PRINT_NONE:
        fn = NULL;
        break;
    default:
        return -1;
    }
    old = libbpf_set_print(fn);
    if (!libbpf_py_print_saved) {
        libbpf_py_saved_print = old;
        libbpf_py_print_saved = 1;
    }
    libbpf_py_print_mode = mode;
    return prev;
}
"""

#: exported libbpf symbols this area does not declare: name -> (version node, reason)
UNDECLARED: Dict[str, Tuple[str, str]] = {
    "libbpf_set_print": ("LIBBPF_0.0.1", (
        "its libbpf_print_fn_t callback takes a va_list, which cffi cannot "
        "express; use the libbpf_py_set_print_hook(mode) shim, which formats in C "
        'and calls the extern "Python" libbpf_py_log_cb(level, msg)'
    )),
}
