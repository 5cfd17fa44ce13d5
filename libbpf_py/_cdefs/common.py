"""libbpf_version.h, libbpf_common.h and libbpf_legacy.h.

libbpf_legacy.h is the first header that pulls in the kernel's <linux/bpf.h>,
so the kernel UAPI types every area shares live here too: the fixed-width
integer typedefs, the program/map/attach/link type enums and the
``bpf_*_info`` structs. Builds use the system's UAPI headers, or the copy of
them a libbpf prefix built from source installs (``make install_uapi_headers``,
as vendor/provision.py does), so only what Debian 12's (Linux 6.1)
<linux/bpf.h> has is declared; every UAPI enum ends in ``...`` so that the
compiler supplies the values (and newer UAPI headers may add more). Where a
newer header changes the size of a member that cffi must know exactly (an
anonymous struct inside ``bpf_link_info``), the added lines carry the tag of
the first libbpf release whose own UAPI copy has them: right for the version
matrix, whose prefixes ship that copy; a libbpf built against another
kernel's headers may need the tag moved.
"""

from typing import Dict, Tuple

INCLUDES = """
#include <bpf/libbpf_version.h>
#include <bpf/libbpf_common.h>
#include <bpf/libbpf_legacy.h>
"""

TYPES = """
/* <linux/types.h> */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef int... pid_t;

/* libbpf_version.h */
#define LIBBPF_MAJOR_VERSION ...
#define LIBBPF_MINOR_VERSION ...

/* libbpf_legacy.h */
enum libbpf_strict_mode {
    LIBBPF_STRICT_ALL,
    LIBBPF_STRICT_NONE,
    LIBBPF_STRICT_CLEAN_PTRS,
    LIBBPF_STRICT_DIRECT_ERRS,
    LIBBPF_STRICT_SEC_NAME,
    LIBBPF_STRICT_NO_OBJECT_LIST,
    LIBBPF_STRICT_AUTO_RLIMIT_MEMLOCK,
    LIBBPF_STRICT_MAP_DEFINITIONS,
    ...
};

/* <linux/bpf.h>: sizes and flags */
#define BPF_OBJ_NAME_LEN ...
#define BPF_TAG_SIZE ...
#define BPF_ANY ...
#define BPF_NOEXIST ...
#define BPF_EXIST ...
#define BPF_F_LOCK ...
#define BPF_F_NO_PREALLOC ...
#define BPF_F_NO_COMMON_LRU ...
#define BPF_F_NUMA_NODE ...
#define BPF_F_RDONLY ...
#define BPF_F_WRONLY ...
#define BPF_F_STACK_BUILD_ID ...
#define BPF_F_ZERO_SEED ...
#define BPF_F_RDONLY_PROG ...
#define BPF_F_WRONLY_PROG ...
#define BPF_F_CLONE ...
#define BPF_F_MMAPABLE ...
#define BPF_F_PRESERVE_ELEMS ...
#define BPF_F_INNER_MAP ...
#define BPF_F_ALLOW_OVERRIDE ...
#define BPF_F_ALLOW_MULTI ...
#define BPF_F_REPLACE ...
#define BPF_F_STRICT_ALIGNMENT ...
#define BPF_F_ANY_ALIGNMENT ...
#define BPF_F_TEST_RND_HI32 ...
#define BPF_F_TEST_STATE_FREQ ...
#define BPF_F_SLEEPABLE ...
#define BPF_F_XDP_HAS_FRAGS ...
#define BPF_F_KPROBE_MULTI_RETURN ...
#define BPF_F_QUERY_EFFECTIVE ...
#define BPF_F_TEST_RUN_ON_CPU ...
#define BPF_F_TEST_XDP_LIVE_FRAMES ...

/* <linux/bpf.h>: enums */
enum bpf_prog_type {
    BPF_PROG_TYPE_UNSPEC, BPF_PROG_TYPE_SOCKET_FILTER, BPF_PROG_TYPE_KPROBE,
    BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_SCHED_ACT, BPF_PROG_TYPE_TRACEPOINT,
    BPF_PROG_TYPE_XDP, BPF_PROG_TYPE_PERF_EVENT, BPF_PROG_TYPE_CGROUP_SKB,
    BPF_PROG_TYPE_CGROUP_SOCK, BPF_PROG_TYPE_LWT_IN, BPF_PROG_TYPE_LWT_OUT,
    BPF_PROG_TYPE_LWT_XMIT, BPF_PROG_TYPE_SOCK_OPS, BPF_PROG_TYPE_SK_SKB,
    BPF_PROG_TYPE_CGROUP_DEVICE, BPF_PROG_TYPE_SK_MSG, BPF_PROG_TYPE_RAW_TRACEPOINT,
    BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_PROG_TYPE_LWT_SEG6LOCAL, BPF_PROG_TYPE_LIRC_MODE2,
    BPF_PROG_TYPE_SK_REUSEPORT, BPF_PROG_TYPE_FLOW_DISSECTOR, BPF_PROG_TYPE_CGROUP_SYSCTL,
    BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE, BPF_PROG_TYPE_CGROUP_SOCKOPT,
    BPF_PROG_TYPE_TRACING, BPF_PROG_TYPE_STRUCT_OPS, BPF_PROG_TYPE_EXT, BPF_PROG_TYPE_LSM,
    BPF_PROG_TYPE_SK_LOOKUP, BPF_PROG_TYPE_SYSCALL,
    ...
};

enum bpf_map_type {
    BPF_MAP_TYPE_UNSPEC, BPF_MAP_TYPE_HASH, BPF_MAP_TYPE_ARRAY, BPF_MAP_TYPE_PROG_ARRAY,
    BPF_MAP_TYPE_PERF_EVENT_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_PERCPU_ARRAY,
    BPF_MAP_TYPE_STACK_TRACE, BPF_MAP_TYPE_CGROUP_ARRAY, BPF_MAP_TYPE_LRU_HASH,
    BPF_MAP_TYPE_LRU_PERCPU_HASH, BPF_MAP_TYPE_LPM_TRIE, BPF_MAP_TYPE_ARRAY_OF_MAPS,
    BPF_MAP_TYPE_HASH_OF_MAPS, BPF_MAP_TYPE_DEVMAP, BPF_MAP_TYPE_SOCKMAP, BPF_MAP_TYPE_CPUMAP,
    BPF_MAP_TYPE_XSKMAP, BPF_MAP_TYPE_SOCKHASH, BPF_MAP_TYPE_CGROUP_STORAGE,
    BPF_MAP_TYPE_REUSEPORT_SOCKARRAY, BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE, BPF_MAP_TYPE_QUEUE,
    BPF_MAP_TYPE_STACK, BPF_MAP_TYPE_SK_STORAGE, BPF_MAP_TYPE_DEVMAP_HASH,
    BPF_MAP_TYPE_STRUCT_OPS, BPF_MAP_TYPE_RINGBUF, BPF_MAP_TYPE_INODE_STORAGE,
    BPF_MAP_TYPE_TASK_STORAGE, BPF_MAP_TYPE_BLOOM_FILTER, BPF_MAP_TYPE_USER_RINGBUF,
    ...
};

enum bpf_attach_type {
    BPF_CGROUP_INET_INGRESS, BPF_CGROUP_INET_EGRESS, BPF_CGROUP_INET_SOCK_CREATE,
    BPF_CGROUP_SOCK_OPS, BPF_SK_SKB_STREAM_PARSER, BPF_SK_SKB_STREAM_VERDICT,
    BPF_CGROUP_DEVICE, BPF_SK_MSG_VERDICT, BPF_CGROUP_INET4_BIND, BPF_CGROUP_INET6_BIND,
    BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_INET4_POST_BIND,
    BPF_CGROUP_INET6_POST_BIND, BPF_CGROUP_UDP4_SENDMSG, BPF_CGROUP_UDP6_SENDMSG,
    BPF_LIRC_MODE2, BPF_FLOW_DISSECTOR, BPF_CGROUP_SYSCTL, BPF_CGROUP_UDP4_RECVMSG,
    BPF_CGROUP_UDP6_RECVMSG, BPF_CGROUP_GETSOCKOPT, BPF_CGROUP_SETSOCKOPT, BPF_TRACE_RAW_TP,
    BPF_TRACE_FENTRY, BPF_TRACE_FEXIT, BPF_MODIFY_RETURN, BPF_LSM_MAC, BPF_TRACE_ITER,
    BPF_CGROUP_INET4_GETPEERNAME, BPF_CGROUP_INET6_GETPEERNAME,
    BPF_CGROUP_INET4_GETSOCKNAME, BPF_CGROUP_INET6_GETSOCKNAME, BPF_XDP_DEVMAP,
    BPF_CGROUP_INET_SOCK_RELEASE, BPF_XDP_CPUMAP, BPF_SK_LOOKUP, BPF_XDP,
    BPF_SK_SKB_VERDICT, BPF_SK_REUSEPORT_SELECT, BPF_SK_REUSEPORT_SELECT_OR_MIGRATE,
    BPF_PERF_EVENT, BPF_TRACE_KPROBE_MULTI, BPF_LSM_CGROUP,
    ...
};

enum bpf_link_type {
    BPF_LINK_TYPE_UNSPEC, BPF_LINK_TYPE_RAW_TRACEPOINT, BPF_LINK_TYPE_TRACING,
    BPF_LINK_TYPE_CGROUP, BPF_LINK_TYPE_ITER, BPF_LINK_TYPE_NETNS, BPF_LINK_TYPE_XDP,
    BPF_LINK_TYPE_PERF_EVENT, BPF_LINK_TYPE_KPROBE_MULTI, BPF_LINK_TYPE_STRUCT_OPS,
    ...
};

enum bpf_stats_type {
    BPF_STATS_RUN_TIME,
    ...
};

enum bpf_cgroup_iter_order {
    BPF_CGROUP_ITER_ORDER_UNSPEC, BPF_CGROUP_ITER_SELF_ONLY,
    BPF_CGROUP_ITER_DESCENDANTS_PRE, BPF_CGROUP_ITER_DESCENDANTS_POST,
    BPF_CGROUP_ITER_ANCESTORS_UP,
    ...
};

/* the helper ids, for libbpf_probe_bpf_helper() */
enum bpf_func_id {
    BPF_FUNC_unspec, BPF_FUNC_map_lookup_elem, BPF_FUNC_map_update_elem,
    BPF_FUNC_map_delete_elem, BPF_FUNC_probe_read, BPF_FUNC_ktime_get_ns,
    BPF_FUNC_trace_printk, BPF_FUNC_get_prandom_u32, BPF_FUNC_get_smp_processor_id,
    BPF_FUNC_skb_store_bytes, BPF_FUNC_l3_csum_replace, BPF_FUNC_l4_csum_replace,
    BPF_FUNC_tail_call, BPF_FUNC_clone_redirect, BPF_FUNC_get_current_pid_tgid,
    BPF_FUNC_get_current_uid_gid, BPF_FUNC_get_current_comm, BPF_FUNC_get_cgroup_classid,
    BPF_FUNC_skb_vlan_push, BPF_FUNC_skb_vlan_pop, BPF_FUNC_skb_get_tunnel_key,
    BPF_FUNC_skb_set_tunnel_key, BPF_FUNC_perf_event_read, BPF_FUNC_redirect,
    BPF_FUNC_get_route_realm, BPF_FUNC_perf_event_output, BPF_FUNC_skb_load_bytes,
    BPF_FUNC_get_stackid, BPF_FUNC_csum_diff, BPF_FUNC_skb_get_tunnel_opt,
    BPF_FUNC_skb_set_tunnel_opt, BPF_FUNC_skb_change_proto, BPF_FUNC_skb_change_type,
    BPF_FUNC_skb_under_cgroup, BPF_FUNC_get_hash_recalc, BPF_FUNC_get_current_task,
    BPF_FUNC_probe_write_user, BPF_FUNC_current_task_under_cgroup, BPF_FUNC_skb_change_tail,
    BPF_FUNC_skb_pull_data, BPF_FUNC_csum_update, BPF_FUNC_set_hash_invalid,
    BPF_FUNC_get_numa_node_id, BPF_FUNC_skb_change_head, BPF_FUNC_xdp_adjust_head,
    BPF_FUNC_probe_read_str, BPF_FUNC_get_socket_cookie, BPF_FUNC_get_socket_uid,
    BPF_FUNC_set_hash, BPF_FUNC_setsockopt, BPF_FUNC_skb_adjust_room, BPF_FUNC_redirect_map,
    BPF_FUNC_sk_redirect_map, BPF_FUNC_sock_map_update, BPF_FUNC_xdp_adjust_meta,
    BPF_FUNC_perf_event_read_value, BPF_FUNC_perf_prog_read_value, BPF_FUNC_getsockopt,
    BPF_FUNC_override_return, BPF_FUNC_sock_ops_cb_flags_set, BPF_FUNC_msg_redirect_map,
    BPF_FUNC_msg_apply_bytes, BPF_FUNC_msg_cork_bytes, BPF_FUNC_msg_pull_data,
    BPF_FUNC_bind, BPF_FUNC_xdp_adjust_tail, BPF_FUNC_skb_get_xfrm_state,
    BPF_FUNC_get_stack, BPF_FUNC_skb_load_bytes_relative, BPF_FUNC_fib_lookup,
    BPF_FUNC_sock_hash_update, BPF_FUNC_msg_redirect_hash, BPF_FUNC_sk_redirect_hash,
    BPF_FUNC_lwt_push_encap, BPF_FUNC_lwt_seg6_store_bytes, BPF_FUNC_lwt_seg6_adjust_srh,
    BPF_FUNC_lwt_seg6_action, BPF_FUNC_rc_repeat, BPF_FUNC_rc_keydown,
    BPF_FUNC_skb_cgroup_id, BPF_FUNC_get_current_cgroup_id, BPF_FUNC_get_local_storage,
    BPF_FUNC_sk_select_reuseport, BPF_FUNC_skb_ancestor_cgroup_id, BPF_FUNC_sk_lookup_tcp,
    BPF_FUNC_sk_lookup_udp, BPF_FUNC_sk_release, BPF_FUNC_map_push_elem,
    BPF_FUNC_map_pop_elem, BPF_FUNC_map_peek_elem, BPF_FUNC_msg_push_data,
    BPF_FUNC_msg_pop_data, BPF_FUNC_rc_pointer_rel, BPF_FUNC_spin_lock, BPF_FUNC_spin_unlock,
    BPF_FUNC_sk_fullsock, BPF_FUNC_tcp_sock, BPF_FUNC_skb_ecn_set_ce,
    BPF_FUNC_get_listener_sock, BPF_FUNC_skc_lookup_tcp, BPF_FUNC_tcp_check_syncookie,
    BPF_FUNC_sysctl_get_name, BPF_FUNC_sysctl_get_current_value,
    BPF_FUNC_sysctl_get_new_value, BPF_FUNC_sysctl_set_new_value, BPF_FUNC_strtol,
    BPF_FUNC_strtoul, BPF_FUNC_sk_storage_get, BPF_FUNC_sk_storage_delete,
    BPF_FUNC_send_signal, BPF_FUNC_tcp_gen_syncookie, BPF_FUNC_skb_output,
    BPF_FUNC_probe_read_user, BPF_FUNC_probe_read_kernel, BPF_FUNC_probe_read_user_str,
    BPF_FUNC_probe_read_kernel_str, BPF_FUNC_tcp_send_ack, BPF_FUNC_send_signal_thread,
    BPF_FUNC_jiffies64, BPF_FUNC_read_branch_records, BPF_FUNC_get_ns_current_pid_tgid,
    BPF_FUNC_xdp_output, BPF_FUNC_get_netns_cookie, BPF_FUNC_get_current_ancestor_cgroup_id,
    BPF_FUNC_sk_assign, BPF_FUNC_ktime_get_boot_ns, BPF_FUNC_seq_printf,
    BPF_FUNC_seq_write, BPF_FUNC_sk_cgroup_id, BPF_FUNC_sk_ancestor_cgroup_id,
    BPF_FUNC_ringbuf_output, BPF_FUNC_ringbuf_reserve, BPF_FUNC_ringbuf_submit,
    BPF_FUNC_ringbuf_discard, BPF_FUNC_ringbuf_query, BPF_FUNC_csum_level,
    BPF_FUNC_skc_to_tcp6_sock, BPF_FUNC_skc_to_tcp_sock, BPF_FUNC_skc_to_tcp_timewait_sock,
    BPF_FUNC_skc_to_tcp_request_sock, BPF_FUNC_skc_to_udp6_sock, BPF_FUNC_get_task_stack,
    BPF_FUNC_load_hdr_opt, BPF_FUNC_store_hdr_opt, BPF_FUNC_reserve_hdr_opt,
    BPF_FUNC_inode_storage_get, BPF_FUNC_inode_storage_delete, BPF_FUNC_d_path,
    BPF_FUNC_copy_from_user, BPF_FUNC_snprintf_btf, BPF_FUNC_seq_printf_btf,
    BPF_FUNC_skb_cgroup_classid, BPF_FUNC_redirect_neigh, BPF_FUNC_per_cpu_ptr,
    BPF_FUNC_this_cpu_ptr, BPF_FUNC_redirect_peer, BPF_FUNC_task_storage_get,
    BPF_FUNC_task_storage_delete, BPF_FUNC_get_current_task_btf, BPF_FUNC_bprm_opts_set,
    BPF_FUNC_ktime_get_coarse_ns, BPF_FUNC_ima_inode_hash, BPF_FUNC_sock_from_file,
    BPF_FUNC_check_mtu, BPF_FUNC_for_each_map_elem, BPF_FUNC_snprintf, BPF_FUNC_sys_bpf,
    BPF_FUNC_btf_find_by_name_kind, BPF_FUNC_sys_close, BPF_FUNC_timer_init,
    BPF_FUNC_timer_set_callback, BPF_FUNC_timer_start, BPF_FUNC_timer_cancel,
    BPF_FUNC_get_func_ip, BPF_FUNC_get_attach_cookie, BPF_FUNC_task_pt_regs,
    BPF_FUNC_get_branch_snapshot, BPF_FUNC_trace_vprintk, BPF_FUNC_skc_to_unix_sock,
    BPF_FUNC_kallsyms_lookup_name, BPF_FUNC_find_vma, BPF_FUNC_loop, BPF_FUNC_strncmp,
    BPF_FUNC_get_func_arg, BPF_FUNC_get_func_ret, BPF_FUNC_get_func_arg_cnt,
    BPF_FUNC_get_retval, BPF_FUNC_set_retval, BPF_FUNC_xdp_get_buff_len,
    BPF_FUNC_xdp_load_bytes, BPF_FUNC_xdp_store_bytes, BPF_FUNC_copy_from_user_task,
    BPF_FUNC_skb_set_tstamp, BPF_FUNC_ima_file_hash, BPF_FUNC_kptr_xchg,
    BPF_FUNC_map_lookup_percpu_elem, BPF_FUNC_skc_to_mptcp_sock, BPF_FUNC_dynptr_from_mem,
    BPF_FUNC_ringbuf_reserve_dynptr, BPF_FUNC_ringbuf_submit_dynptr,
    BPF_FUNC_ringbuf_discard_dynptr, BPF_FUNC_dynptr_read, BPF_FUNC_dynptr_write,
    BPF_FUNC_dynptr_data, BPF_FUNC_tcp_raw_gen_syncookie_ipv4,
    BPF_FUNC_tcp_raw_gen_syncookie_ipv6, BPF_FUNC_tcp_raw_check_syncookie_ipv4,
    BPF_FUNC_tcp_raw_check_syncookie_ipv6, BPF_FUNC_ktime_get_tai_ns,
    BPF_FUNC_user_ringbuf_drain,
    ...
};

/* <linux/bpf.h>: structs */
struct bpf_insn {
    __u8 code;
    __u8 dst_reg: 4;
    __u8 src_reg: 4;
    __s16 off;
    __s32 imm;
};

struct bpf_func_info {
    __u32 insn_off;
    __u32 type_id;
};

struct bpf_line_info {
    __u32 insn_off;
    __u32 file_name_off;
    __u32 line_off;
    __u32 line_col;
};

union bpf_iter_link_info {
    struct { __u32 map_fd; } map;
    struct { enum bpf_cgroup_iter_order order; __u32 cgroup_fd; __u64 cgroup_id; } cgroup;
    struct { __u32 tid; __u32 pid; __u32 pid_fd; } task;
    ...;
};

struct bpf_prog_info {
    __u32 type;
    __u32 id;
    __u8 tag[...];
    __u32 jited_prog_len;
    __u32 xlated_prog_len;
    __u64 jited_prog_insns;
    __u64 xlated_prog_insns;
    __u64 load_time;
    __u32 created_by_uid;
    __u32 nr_map_ids;
    __u64 map_ids;
    char name[...];
    __u32 ifindex;
    __u64 netns_dev;
    __u64 netns_ino;
    __u32 nr_jited_ksyms;
    __u32 nr_jited_func_lens;
    __u64 jited_ksyms;
    __u64 jited_func_lens;
    __u32 btf_id;
    __u32 func_info_rec_size;
    __u64 func_info;
    __u32 nr_func_info;
    __u32 nr_line_info;
    __u64 line_info;
    __u64 jited_line_info;
    __u32 nr_jited_line_info;
    __u32 line_info_rec_size;
    __u32 jited_line_info_rec_size;
    __u32 nr_prog_tags;
    __u64 prog_tags;
    __u64 run_time_ns;
    __u64 run_cnt;
    __u64 recursion_misses;
    __u32 verified_insns;
    __u32 attach_btf_obj_id;
    __u32 attach_btf_id;
    ...;
};

struct bpf_map_info {
    __u32 type;
    __u32 id;
    __u32 key_size;
    __u32 value_size;
    __u32 max_entries;
    __u32 map_flags;
    char name[...];
    __u32 ifindex;
    __u32 btf_vmlinux_value_type_id;
    __u64 netns_dev;
    __u64 netns_ino;
    __u32 btf_id;
    __u32 btf_key_type_id;
    __u32 btf_value_type_id;
    __u64 map_extra;
    ...;
};

struct bpf_btf_info {
    __u64 btf;
    __u32 btf_size;
    __u32 id;
    __u64 name;
    __u32 name_len;
    __u32 kernel_btf;
    ...;
};

/* without .iter, whose nested anonymous unions cffi lays out wrongly. The anonymous
 * members must have their exact size: the cookies of raw_tracepoint and tracing
 * (Linux 6.17's UAPI, in libbpf's own copy since 1.6) make them 24 bytes. */
struct bpf_link_info {
    __u32 type;
    __u32 id;
    __u32 prog_id;
    union {
        struct {
            __u64 tp_name;
            __u32 tp_name_len;
            __u32 :32;      // @LIBBPF_1.6.0
            __u64 cookie;   // @LIBBPF_1.6.0
        } raw_tracepoint;
        struct {
            __u32 attach_type;
            __u32 target_obj_id;
            __u32 target_btf_id;
            __u32 :32;      // @LIBBPF_1.6.0
            __u64 cookie;   // @LIBBPF_1.6.0
        } tracing;
        struct { __u64 cgroup_id; __u32 attach_type; } cgroup;
        struct { __u32 netns_ino; __u32 attach_type; } netns;
        struct { __u32 ifindex; } xdp;
    };
    ...;
};
"""

FUNCTIONS = """
// error pointers and strict mode, no-ops since libbpf 1.0
@LIBBPF_0.0.1
long libbpf_get_error(const void *);
@LIBBPF_0.5.0
int libbpf_set_strict_mode(enum libbpf_strict_mode);

// superseded getters, still exported
@LIBBPF_0.0.2
const void *btf__get_raw_data(const struct btf *, __u32 *);
const void *btf_ext__get_raw_data(const struct btf_ext *, __u32 *);
@LIBBPF_0.0.6
const char *bpf_map__get_pin_path(const struct bpf_map *);
enum bpf_attach_type bpf_program__get_expected_attach_type(const struct bpf_program *);
enum bpf_prog_type bpf_program__get_type(const struct bpf_program *);
@LIBBPF_0.0.7
struct btf *libbpf_find_kernel_btf(void);
"""

CUSTOMIZATIONS = """
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Format a libbpf printf-style callback's arguments: into buf when the text
 * fits in size bytes, else into malloc()ed memory the caller frees (text !=
 * buf). If that allocation fails, the text is truncated to buf. NULL only
 * on an encoding error.
 */
static char *libbpf_py_vformat(char *buf, size_t size, const char *fmt, va_list args)
{
    va_list copy;
    char *text;
    int n;

    va_copy(copy, args);
    n = vsnprintf(buf, size, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    if ((size_t)n < size)
        return buf;
    text = malloc((size_t)n + 1);
    if (text == NULL)
        return buf;
    vsnprintf(text, (size_t)n + 1, fmt, args);
    return text;
}
"""

#: exported libbpf symbols this area does not declare, with the reason
UNDECLARED: Dict[str, Tuple[str, str]] = {}
