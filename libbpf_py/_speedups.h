/* The libbpf functions libbpf_py._speedups calls, as the cffi extension exports them.
 *
 * Included by the cffi extension's source (libbpf_py/_cdefs/bpf.py, which defines the
 * one table, `libbpf_py_speedups_api`) and by libbpf_py/_speedups.c (which finds that
 * table with dlsym in the already loaded cffi extension). _speedups never links
 * libbpf itself: it calls whichever libbpf the cffi extension is linked with, shared
 * or static, so a build has exactly one libbpf and the link audit stays true.
 *
 * Only libbpf's stable LIBBPF_0.0.1 map element calls, declared here by their
 * prototypes so that no libbpf header is needed to build _speedups.
 */
#ifndef LIBBPF_PY_SPEEDUPS_H
#define LIBBPF_PY_SPEEDUPS_H

#include <linux/types.h>

#define LIBBPF_PY_SPEEDUPS_MAGIC 0x6c6962627066707aULL /* "libbpfpz" */
#define LIBBPF_PY_SPEEDUPS_VERSION 1

struct libbpf_py_speedups_api {
    unsigned long long magic;   /* LIBBPF_PY_SPEEDUPS_MAGIC */
    unsigned int version;       /* LIBBPF_PY_SPEEDUPS_VERSION */
    unsigned int size;          /* sizeof(struct libbpf_py_speedups_api) */
    int (*map_lookup_elem)(int fd, const void *key, void *value);
    int (*map_update_elem)(int fd, const void *key, const void *value, __u64 flags);
    int (*map_delete_elem)(int fd, const void *key);
};

#define LIBBPF_PY_SPEEDUPS_SYMBOL "libbpf_py_speedups_api"

#endif
