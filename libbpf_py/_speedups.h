/* The libbpf functions libbpf_py._speedups calls, as the cffi extension hands them over.
 *
 * Included by the cffi extension's source (libbpf_py/_cdefs/bpf.py, which defines the
 * one table and publishes it as a PyCapsule, the documented way for one extension to
 * offer C functions to another) and by libbpf_py/_speedups.c (which takes that
 * capsule with PyCapsule_Import). _speedups never links libbpf itself: it calls
 * whichever libbpf the cffi extension is linked with, shared or static, so a build
 * has exactly one libbpf and the link audit stays true.
 *
 * Only libbpf's stable LIBBPF_0.0.1 map element calls, and the two calls that
 * check what a map really holds before _speedups sizes its buffers by it
 * (bpf_obj_get_info_by_fd, LIBBPF_0.0.1; libbpf_num_possible_cpus, LIBBPF_0.0.4),
 * declared here by their prototypes so that no libbpf header is needed to build
 * _speedups.
 */
#ifndef LIBBPF_PY_SPEEDUPS_H
#define LIBBPF_PY_SPEEDUPS_H

#include <linux/types.h>

#define LIBBPF_PY_SPEEDUPS_MAGIC 0x6c6962627066707aULL /* "libbpfpz" */
#define LIBBPF_PY_SPEEDUPS_VERSION 3

struct libbpf_py_speedups_api {
    unsigned long long magic;   /* LIBBPF_PY_SPEEDUPS_MAGIC */
    unsigned int version;       /* LIBBPF_PY_SPEEDUPS_VERSION */
    unsigned int size;          /* sizeof(struct libbpf_py_speedups_api) */
    int (*map_lookup_elem)(int fd, const void *key, void *value);
    int (*map_update_elem)(int fd, const void *key, const void *value, __u64 flags);
    int (*map_delete_elem)(int fd, const void *key);
    int (*obj_get_info_by_fd)(int bpf_fd, void *info, __u32 *info_len);
    int (*num_possible_cpus)(void);
};

/* The capsule's name: PyCapsule_Import imports libbpf_py._libbpf and takes its
 * attribute _speedups_api, which libbpf_py_speedups_export() sets. */
#define LIBBPF_PY_SPEEDUPS_CAPSULE "libbpf_py._libbpf._speedups_api"

#endif
