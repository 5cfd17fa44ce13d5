"""btf.h: BPF Type Format.

The kernel's <linux/btf.h> records (``struct btf_type`` and the records that
follow it) are declared in full: they are fixed by the BTF format. btf.h's
static inline accessors (``btf_kind()``, ``btf_vlen()``, ``btf_members()``,
``btf_member_bit_offset()``...) are declared in ``TYPES``: they are header API,
not library symbols (no version node, nothing to export), and cffi's API mode
compiles a call to each. ``libbpf_py.btf`` reads every record through them, so
a change of the BTF layout in a newer libbpf is followed by rebuilding.

``btf_dump__new()`` takes a printf-style callback with a ``va_list``, which
cffi cannot express: ``libbpf_py_btf_dump_new()`` (below) formats each piece
of output in C and hands the text to the ``extern "Python"`` callback
``libbpf_py_btf_dump_cb(ctx, text)``.
"""

from typing import Dict, Tuple

INCLUDES = """
#include <bpf/btf.h>
"""

TYPES = """
/* <linux/btf.h> */
#define BTF_MAGIC ...
#define BTF_VERSION ...
#define BTF_KIND_UNKN ...
#define BTF_KIND_INT ...
#define BTF_KIND_PTR ...
#define BTF_KIND_ARRAY ...
#define BTF_KIND_STRUCT ...
#define BTF_KIND_UNION ...
#define BTF_KIND_ENUM ...
#define BTF_KIND_FWD ...
#define BTF_KIND_TYPEDEF ...
#define BTF_KIND_VOLATILE ...
#define BTF_KIND_CONST ...
#define BTF_KIND_RESTRICT ...
#define BTF_KIND_FUNC ...
#define BTF_KIND_FUNC_PROTO ...
#define BTF_KIND_VAR ...
#define BTF_KIND_DATASEC ...
#define BTF_KIND_FLOAT ...
#define BTF_KIND_DECL_TAG ...
#define BTF_KIND_TYPE_TAG ...
#define BTF_KIND_ENUM64 ...
#define BTF_INT_SIGNED ...
#define BTF_INT_CHAR ...
#define BTF_INT_BOOL ...
#define BTF_VAR_STATIC ...
#define BTF_VAR_GLOBAL_ALLOCATED ...
#define BTF_VAR_GLOBAL_EXTERN ...

enum btf_func_linkage {
    BTF_FUNC_STATIC,
    BTF_FUNC_GLOBAL,
    BTF_FUNC_EXTERN,
    ...
};

struct btf_type {
    __u32 name_off;
    __u32 info;
    union {
        __u32 size;
        __u32 type;
    };
};
struct btf_enum { __u32 name_off; __s32 val; };
struct btf_enum64 { __u32 name_off; __u32 val_lo32; __u32 val_hi32; };
struct btf_array { __u32 type; __u32 index_type; __u32 nelems; };
struct btf_member { __u32 name_off; __u32 type; __u32 offset; };
struct btf_param { __u32 name_off; __u32 type; };
struct btf_var { __u32 linkage; };
struct btf_var_secinfo { __u32 type; __u32 offset; __u32 size; };
struct btf_decl_tag { __s32 component_idx; };

/* btf.h */
struct btf;
struct btf_ext;
struct btf_dump;

enum btf_endianness {
    BTF_LITTLE_ENDIAN,
    BTF_BIG_ENDIAN,
    ...
};

enum btf_fwd_kind {
    BTF_FWD_STRUCT,
    BTF_FWD_UNION,
    BTF_FWD_ENUM,
    ...
};

struct btf_dedup_opts {
    size_t sz;
    struct btf_ext *btf_ext;
    bool force_collisions;
    ...;
};

struct btf_dump_opts {
    size_t sz;
    ...;
};

struct btf_dump_emit_type_decl_opts {
    size_t sz;
    const char *field_name;
    int indent_level;
    bool strip_mods;
    ...;
};

struct btf_dump_type_data_opts {
    size_t sz;
    const char *indent_str;
    int indent_level;
    bool compact;
    bool skip_names;
    bool emit_zeroes;
    ...;
};

/* btf.h's static inline accessors of struct btf_type and the records after it */
__u16 btf_kind(const struct btf_type *t);
__u16 btf_vlen(const struct btf_type *t);
bool btf_kflag(const struct btf_type *t);
__u8 btf_int_encoding(const struct btf_type *t);
__u8 btf_int_offset(const struct btf_type *t);
__u8 btf_int_bits(const struct btf_type *t);
struct btf_array *btf_array(const struct btf_type *t);
struct btf_enum *btf_enum(const struct btf_type *t);
struct btf_enum64 *btf_enum64(const struct btf_type *t);
__u64 btf_enum64_value(const struct btf_enum64 *e);
struct btf_member *btf_members(const struct btf_type *t);
__u32 btf_member_bit_offset(const struct btf_type *t, __u32 member_idx);
__u32 btf_member_bitfield_size(const struct btf_type *t, __u32 member_idx);
struct btf_param *btf_params(const struct btf_type *t);
struct btf_var *btf_var(const struct btf_type *t);
struct btf_var_secinfo *btf_var_secinfos(const struct btf_type *t);
struct btf_decl_tag *btf_decl_tag(const struct btf_type *t);

/* project shim: btf_dump__new() with its printf callback done in C */
extern "Python" void libbpf_py_btf_dump_cb(void *, const char *);
struct btf_dump *libbpf_py_btf_dump_new(const struct btf *, void *, const struct btf_dump_opts *);

@LIBBPF_1.7.0
struct btf_permute_opts {
    size_t sz;
    struct btf_ext *btf_ext;
    ...;
};
"""

FUNCTIONS = """
// BTF objects: create and parse
@LIBBPF_0.0.1
void btf__free(struct btf *);
struct btf *btf__new(const void *, __u32);
@LIBBPF_0.0.4
struct btf *btf__parse_elf(const char *, struct btf_ext **);
@LIBBPF_0.1.0
struct btf *btf__parse(const char *, struct btf_ext **);
struct btf *btf__parse_raw(const char *);
@LIBBPF_0.2.0
struct btf *btf__new_empty(void);
@LIBBPF_0.3.0
struct btf *btf__new_empty_split(struct btf *);
struct btf *btf__parse_elf_split(const char *, struct btf *);
struct btf *btf__parse_raw_split(const char *, struct btf *);
struct btf *btf__parse_split(const char *, struct btf *);
@LIBBPF_1.4.0
// declared in btf.h long before (1.1 has it), exported since libbpf 1.4
struct btf *btf__new_split(const void *, __u32, struct btf *);

// BTF objects: the kernel's
@LIBBPF_0.5.0
struct btf *btf__load_from_kernel_by_id(__u32);
struct btf *btf__load_from_kernel_by_id_split(__u32, struct btf *);
int btf__load_into_kernel(struct btf *);
struct btf *btf__load_module_btf(const char *, struct btf *);
struct btf *btf__load_vmlinux_btf(void);

// BTF objects: query
@LIBBPF_0.0.1
int btf__fd(const struct btf *);
__s32 btf__find_by_name(const struct btf *, const char *);
const char *btf__name_by_offset(const struct btf *, __u32);
__s64 btf__resolve_size(const struct btf *, __u32);
int btf__resolve_type(const struct btf *, __u32);
const struct btf_type *btf__type_by_id(const struct btf *, __u32);
@LIBBPF_0.0.6
__s32 btf__find_by_name_kind(const struct btf *, const char *, __u32);
@LIBBPF_0.0.7
int btf__align_of(const struct btf *, __u32);
@LIBBPF_0.1.0
size_t btf__pointer_size(const struct btf *);
void btf__set_fd(struct btf *, int);
int btf__set_pointer_size(struct btf *, size_t);
@LIBBPF_0.2.0
enum btf_endianness btf__endianness(const struct btf *);
int btf__set_endianness(struct btf *, enum btf_endianness);
const char *btf__str_by_offset(const struct btf *, __u32);
@LIBBPF_0.3.0
const struct btf *btf__base_btf(const struct btf *);
@LIBBPF_0.6.0
const void *btf__raw_data(const struct btf *, __u32 *);
__u32 btf__type_cnt(const struct btf *);

// BTF objects: write
@LIBBPF_0.2.0
int btf__add_array(struct btf *, int, int, __u32);
int btf__add_const(struct btf *, int);
int btf__add_datasec(struct btf *, const char *, __u32);
int btf__add_datasec_var_info(struct btf *, int, __u32, __u32);
int btf__add_enum(struct btf *, const char *, __u32);
int btf__add_enum_value(struct btf *, const char *, __s64);
int btf__add_field(struct btf *, const char *, int, __u32, __u32);
int btf__add_func(struct btf *, const char *, enum btf_func_linkage, int);
int btf__add_func_param(struct btf *, const char *, int);
int btf__add_func_proto(struct btf *, int);
int btf__add_fwd(struct btf *, const char *, enum btf_fwd_kind);
int btf__add_int(struct btf *, const char *, size_t, int);
int btf__add_ptr(struct btf *, int);
int btf__add_restrict(struct btf *, int);
int btf__add_str(struct btf *, const char *);
int btf__add_struct(struct btf *, const char *, __u32);
int btf__add_typedef(struct btf *, const char *, int);
int btf__add_union(struct btf *, const char *, __u32);
int btf__add_var(struct btf *, const char *, int, int);
int btf__add_volatile(struct btf *, int);
int btf__find_str(struct btf *, const char *);
@LIBBPF_0.4.0
int btf__add_float(struct btf *, const char *, size_t);
int btf__add_type(struct btf *, const struct btf *, const struct btf_type *);
@LIBBPF_0.6.0
int btf__add_btf(struct btf *, const struct btf *);
int btf__add_decl_tag(struct btf *, const char *, int, int);
int btf__add_type_tag(struct btf *, const char *, int);
@LIBBPF_1.0.0
int btf__add_enum64(struct btf *, const char *, __u32, bool);
int btf__add_enum64_value(struct btf *, const char *, __u64);
@LIBBPF_1.6.0
int btf__add_decl_attr(struct btf *, const char *, int, int);
int btf__add_type_attr(struct btf *, const char *, int);

// BTF objects: dedup, split and relocate
@LIBBPF_0.6.0
int btf__dedup(struct btf *, const struct btf_dedup_opts *);
@LIBBPF_1.5.0
int btf__distill_base(const struct btf *, struct btf **, struct btf **);
int btf__relocate(struct btf *, const struct btf *);
@LIBBPF_1.7.0
int btf__permute(struct btf *, __u32 *, __u32, const struct btf_permute_opts *);

// .BTF.ext
@LIBBPF_0.0.2
void btf_ext__free(struct btf_ext *);
struct btf_ext *btf_ext__new(const __u8 *, __u32);
@LIBBPF_1.4.0
// declared in btf.h long before (1.1 has it), exported since libbpf 1.4
const void *btf_ext__raw_data(const struct btf_ext *, __u32 *);
@LIBBPF_1.5.0
enum btf_endianness btf_ext__endianness(const struct btf_ext *);
int btf_ext__set_endianness(struct btf_ext *, enum btf_endianness);

// btf_dump: C declarations and typed data (btf_dump__new: see UNDECLARED)
@LIBBPF_0.0.4
int btf_dump__dump_type(struct btf_dump *, __u32);
void btf_dump__free(struct btf_dump *);
@LIBBPF_0.0.7
int btf_dump__emit_type_decl(struct btf_dump *, __u32,
                             const struct btf_dump_emit_type_decl_opts *);
@LIBBPF_0.5.0
int btf_dump__dump_type_data(struct btf_dump *, __u32, const void *, size_t,
                             const struct btf_dump_type_data_opts *);
"""

CUSTOMIZATIONS = """
static void libbpf_py_btf_dump_cb(void *ctx, const char *text);

static void libbpf_py_btf_dump_printf(void *ctx, const char *fmt, va_list args)
{
    char buf[512];
    char *text = libbpf_py_vformat(buf, sizeof(buf), fmt, args);

    if (text == NULL)
        return;
    libbpf_py_btf_dump_cb(ctx, text);
    if (text != buf)
        free(text);
}

static struct btf_dump *libbpf_py_btf_dump_new(const struct btf *btf, void *ctx,
                                               const struct btf_dump_opts *opts)
{
    return btf_dump__new(btf, libbpf_py_btf_dump_printf, ctx, opts);
}
"""

#: exported libbpf symbols this area does not declare: name -> (version node, reason)
UNDECLARED: Dict[str, Tuple[str, str]] = {
    "btf_dump__new": ("LIBBPF_0.6.0", (
        "its btf_dump_printf_fn_t callback takes a va_list, which cffi cannot "
        "express; use the libbpf_py_btf_dump_new() shim, which formats in C and "
        'calls the extern "Python" libbpf_py_btf_dump_cb(ctx, text)'
    )),
}
