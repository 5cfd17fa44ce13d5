/* libbpf_py._speedups: the hot paths that a cffi call cannot make fast enough, and one
 * cleanup that must not be interrupted.
 *
 * 1. MapBase, the C base class of libbpf_py.map.Map. Its mapping slots make
 *    `m[k]`, `m[k] = v` and `del m[k]` one C call for maps of plain int keys
 *    (1, 2, 4 or 8 bytes, the common case) whose values are plain ints, BTF
 *    records (the ctypes class the map's codec made: a read fills a record in
 *    place, the one it returned last when nobody holds it any more, else a new
 *    one; a write of a record of that class sends its bytes) or per-CPU
 *    ints (a list of one int per possible CPU): no Python frame, no cffi call.
 *    Anything else (other key or value types, ints that do not fit, a dict for a
 *    record,
 *    maps not ready, errors other than a missing key) goes to Map's Python
 *    methods `_get`, `update`, `_delete` and `_elem_error`, which do the general
 *    work and build the errors. The int path holds the GIL during the bpf()
 *    call (about a microsecond here): releasing and taking it back would cost
 *    more than the call's own overhead, and with the GIL held no other thread can
 *    close the map's fd in the middle of the call.
 *
 *    Map sets `self._elements` (a data descriptor of this type) to its element
 *    state; that state's `fast` attribute, (fd, key_size, key_signed,
 *    value_size, value_signed[, kind, extra]) or None, is what the C path uses
 *    (kind: 0 int, 1 record with extra its class, 2 per-CPU ints with extra the
 *    number of possible CPUs). The setter asks the kernel what the fd's map
 *    is (its key and value size, whether it is per-CPU, the possible CPUs) and
 *    refuses a tuple that does not match it: the kernel copies its own sizes
 *    from and into buffers the tuple sized. The fd is the
 *    element state's own duplicate, and the C path acts on its own duplicate of
 *    that (a state made by hand need not own the fd it names); Map clears
 *    `_elements` (so the int path stops) before that state can go away. The setter changes the
 *    C fields and the reference together and drops the old state last: the
 *    old state's __del__ is Python code, which another thread can run in, so
 *    the fields and the state they come from always agree when it runs.
 *
 * 2. deliver(), the loop that hands a batch of ring buffer records (copied out
 *    of the rings in C by the cffi extension) to their Python callbacks, and
 *    RecordView, what a callback receives: our own read-only bytes-like type,
 *    moved from record to record only while nobody but deliver() holds it. A
 *    view kept past its callback takes a copy of its record; a view exported
 *    (memoryview(view)) when its callback returns stays on the batch memory,
 *    which it keeps alive, and deliver() tells the caller not to reuse that
 *    memory: a view, and anything made from it, reads its own record only.
 *
 * 3. pairs(), Map.lookup_batch's list of (key, value) tuples for int maps, made
 *    from the two arrays of Map.lookup_batch_arrays.
 *
 * 4. unwait(), not a hot path: the cleanup of the buffers' OwnedLock (_buffers.py)
 *    after an exception while a thread took it, as one C call, which no second
 *    signal (KeyboardInterrupt) can cut short as it could Python code.
 *
 * The libbpf calls go through the function table the cffi extension hands over
 * as a PyCapsule (_speedups.h): bind() takes it with PyCapsule_Import, so this
 * module never links libbpf and a build keeps exactly one libbpf.
 *
 * CPython's public C API only: no private field of any object is read or written.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "_speedups.h"

static struct libbpf_py_speedups_api api;
static int bound;

static PyObject *str_get, *str_update, *str_delete, *str_elem_error, *str_fast,
    *str_lookup, *str_delete_op, *str_acquire, *str_release, *str_owner, *str_sleepers;

/* -- bind ------------------------------------------------------------------------------ */

static PyObject *speedups_bind(PyObject *module, PyObject *unused)
{
    const struct libbpf_py_speedups_api *table;

    /* imports libbpf_py._libbpf, takes its _speedups_api and checks the name */
    table = PyCapsule_Import(LIBBPF_PY_SPEEDUPS_CAPSULE, 0);
    if (table == NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        PyErr_Format(PyExc_ImportError, "libbpf_py._speedups: no function table %s (%S)",
                     LIBBPF_PY_SPEEDUPS_CAPSULE, value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return NULL;
    }
    if (table->magic != LIBBPF_PY_SPEEDUPS_MAGIC || table->version != LIBBPF_PY_SPEEDUPS_VERSION
        || table->size != sizeof(struct libbpf_py_speedups_api)
        || !table->map_lookup_elem || !table->map_update_elem || !table->map_delete_elem
        || !table->obj_get_info_by_fd || !table->num_possible_cpus) {
        PyErr_Format(PyExc_ImportError,
                     "libbpf_py._speedups: the function table is not version %d of this "
                     "module's (rebuild libbpf_py)", LIBBPF_PY_SPEEDUPS_VERSION);
        return NULL;
    }
    api = *table;
    bound = 1;
    Py_RETURN_NONE;
}

/* -- ints ------------------------------------------------------------------------------ */

typedef union {
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int8_t s8;
    int16_t s16;
    int32_t s32;
    int64_t s64;
} elem_int;

/* An exact int into `size` bytes; -1 (no exception set) when it does not fit, so
 * that the caller takes the general path, which raises the codec's ValueError. */
static int encode_int(PyObject *o, int size, int is_signed, elem_int *out)
{
    if (is_signed) {
        int overflow;
        long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow || (x == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return -1;
        }
        switch (size) {
        case 1: if (x < INT8_MIN || x > INT8_MAX) return -1; out->s8 = (int8_t)x; return 0;
        case 2: if (x < INT16_MIN || x > INT16_MAX) return -1; out->s16 = (int16_t)x; return 0;
        case 4: if (x < INT32_MIN || x > INT32_MAX) return -1; out->s32 = (int32_t)x; return 0;
        default: out->s64 = (int64_t)x; return 0;
        }
    } else {
        unsigned long long x = PyLong_AsUnsignedLongLong(o);
        if (x == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();  /* negative or too big */
            return -1;
        }
        switch (size) {
        case 1: if (x > UINT8_MAX) return -1; out->u8 = (uint8_t)x; return 0;
        case 2: if (x > UINT16_MAX) return -1; out->u16 = (uint16_t)x; return 0;
        case 4: if (x > UINT32_MAX) return -1; out->u32 = (uint32_t)x; return 0;
        default: out->u64 = (uint64_t)x; return 0;
        }
    }
}

static PyObject *decode_int(const elem_int *v, int size, int is_signed)
{
    if (is_signed) {
        switch (size) {
        case 1: return PyLong_FromLong(v->s8);
        case 2: return PyLong_FromLong(v->s16);
        case 4: return PyLong_FromLong(v->s32);
        default: return PyLong_FromLongLong(v->s64);
        }
    }
    switch (size) {
    case 1: return PyLong_FromUnsignedLong(v->u8);
    case 2: return PyLong_FromUnsignedLong(v->u16);
    case 4: return PyLong_FromUnsignedLong(v->u32);
    default: return PyLong_FromUnsignedLongLong(v->u64);
    }
}

/* The largest record or per-CPU value the C path reads (bigger ones take the
 * general path): a per-CPU value lives on the heap only for its call. */
#define MAX_C_VALUE (1 << 20)

/* -- Plan: a dict of every field of a record, packed in C --------------------------------- */

/* The plan of StructCodec's full packer (libbpf_py/_codec.py, _full_packer) in C: a
 * dict that has exactly the plan's fields, each an exact int in its range (bitfields
 * too), a bool (or int 0/1) or bytes no longer than its char array, packs into the
 * record's bytes (little-endian hosts only: the plan exists only there). Anything
 * else is "not taken" and the caller goes the Python way, whose errors are the
 * checked path's. _codec checks a Plan against the Python packer on probe values
 * before it uses it. */
enum { PLAN_INT = 0, PLAN_BOOL = 1, PLAN_CHARS = 2 };

typedef struct {
    PyObject *name;             /* an exact str */
    int kind, is_signed;
    Py_ssize_t shift;           /* bit offset in the record */
    int nbits;                  /* PLAN_INT: width; PLAN_CHARS: the array's length */
    long long slo, shi;         /* signed bounds */
    unsigned long long uhi;     /* unsigned upper bound */
} PlanEntry;

typedef struct {
    PyObject_HEAD
    Py_ssize_t size, count;
    PlanEntry *entries;
} Plan;

static void plan_dealloc(Plan *self)
{
    Py_ssize_t i;
    for (i = 0; self->entries != NULL && i < self->count; i++)
        Py_XDECREF(self->entries[i].name);
    PyMem_Free(self->entries);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* OR `nbits` bits of x into buf at bit `shift` (checked in range when the plan was made). */
static void put_bits(unsigned char *buf, Py_ssize_t shift, int nbits, unsigned long long x)
{
    Py_ssize_t byte = shift >> 3;
    int b = (int)(shift & 7), i, nbytes = (b + nbits + 7) / 8;
    unsigned long long lo = x << b, hi = b ? x >> (64 - b) : 0;

    for (i = 0; i < nbytes; i++)
        buf[byte + i] |= (unsigned char)(i < 8 ? lo >> (8 * i) : hi);
}

/* Pack `dict` into buf (zeroed here, self->size bytes): 1 packed, 0 not taken (no
 * exception), -1 an exception. A key lookup may run Python (a key of a str subclass
 * with its own __eq__): the caller must not rely on state Python can change.
 * The dict is walked in its own order as long as its keys are the plan's names
 * themselves, in the plan's order (a dict written field by field in the source:
 * its keys are interned, as the names are): no hashing, no Python. From the first
 * key that is not, the rest are looked up by name. */
static int plan_pack(Plan *self, PyObject *dict, unsigned char *buf)
{
    Py_ssize_t i, pos = 0;
    int in_order = 1;

    if (!PyDict_CheckExact(dict) || PyDict_GET_SIZE(dict) != self->count)
        return 0;
    memset(buf, 0, (size_t)self->size);
    for (i = 0; i < self->count; i++) {
        const PlanEntry *e = &self->entries[i];
        PyObject *v = NULL, *dk, *dv;  /* borrowed */
        unsigned long long x;

        if (in_order && PyDict_Next(dict, &pos, &dk, &dv) && dk == e->name)
            v = dv;
        else {
            in_order = 0;  /* and no PyDict_Next after a lookup, which may run Python */
            v = PyDict_GetItemWithError(dict, e->name);
        }
        if (v == NULL)
            return PyErr_Occurred() ? -1 : 0;
        if (e->kind == PLAN_CHARS) {
            Py_ssize_t n;
            if (!PyBytes_CheckExact(v) || (n = PyBytes_GET_SIZE(v)) > e->nbits)
                return 0;
            memcpy(buf + (e->shift >> 3), PyBytes_AS_STRING(v), (size_t)n);
            continue;
        }
        if (e->kind == PLAN_BOOL) {
            if (v == Py_True)
                x = 1;
            else if (v == Py_False)
                x = 0;
            else if (PyLong_CheckExact(v)) {
                int overflow;
                long long y = PyLong_AsLongLongAndOverflow(v, &overflow);
                if (overflow || y < 0 || y > 1)
                    return 0;  /* (an int cannot fail here but by overflow) */
                x = (unsigned long long)y;
            } else
                return 0;
            put_bits(buf, e->shift, 1, x);
            continue;
        }
        if (!PyLong_CheckExact(v))
            return 0;
        if (e->is_signed) {
            int overflow;
            long long y = PyLong_AsLongLongAndOverflow(v, &overflow);
            if (overflow || y < e->slo || y > e->shi)
                return 0;
            x = (unsigned long long)y;
        } else {
            x = PyLong_AsUnsignedLongLong(v);
            if (x == (unsigned long long)-1 && PyErr_Occurred()) {
                PyErr_Clear();  /* negative or too big: the Python way raises */
                return 0;
            }
            if (x > e->uhi)
                return 0;
        }
        if (e->nbits < 64)
            x &= (1ULL << e->nbits) - 1;
        put_bits(buf, e->shift, e->nbits, x);
    }
    return 1;
}

static PyObject *plan_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t size, i, n;
    PyObject *entries;
    Plan *self;

    if (!PyArg_ParseTuple(args, "nO!:Plan", &size, &PyTuple_Type, &entries))
        return NULL;
    n = PyTuple_GET_SIZE(entries);
    if (size <= 0 || size > MAX_C_VALUE || n <= 0 || n > 4096) {
        PyErr_SetString(PyExc_ValueError, "Plan: bad record size or field count");
        return NULL;
    }
    self = (Plan *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->size = size;
    self->entries = PyMem_Calloc((size_t)n, sizeof(PlanEntry));
    if (self->entries == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->count = n;
    for (i = 0; i < n; i++) {
        PlanEntry *e = &self->entries[i];
        PyObject *name, *lo, *hi;
        Py_ssize_t end;

        /* (name, kind, bit shift, width or length, lowest, highest); PyArg_ParseTuple
         * takes a tuple only (anything else: a SystemError) */
        if (!PyTuple_Check(PyTuple_GET_ITEM(entries, i))) {
            PyErr_Format(PyExc_TypeError, "Plan: entry %zd must be a tuple (name, kind, "
                         "shift, bits, lowest, highest), not %.100s", i,
                         Py_TYPE(PyTuple_GET_ITEM(entries, i))->tp_name);
            goto fail;
        }
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(entries, i), "O!iniOO;Plan: an entry is "
                              "(name, kind, shift, bits, lowest, highest)",
                              &PyUnicode_Type, &name, &e->kind, &e->shift, &e->nbits, &lo, &hi))
            goto fail;
        if (!PyUnicode_CheckExact(name) || e->shift < 0 || e->shift > size * 8
            || (e->kind == PLAN_INT && (e->nbits < 1 || e->nbits > 64))
            || (e->kind == PLAN_BOOL && e->nbits != 1)
            || (e->kind == PLAN_CHARS && (e->nbits < 1 || e->shift % 8 != 0))
            || e->kind < PLAN_INT || e->kind > PLAN_CHARS) {
            PyErr_Format(PyExc_ValueError, "Plan: bad entry %zd", i);
            goto fail;
        }
        end = e->kind == PLAN_CHARS ? e->shift / 8 + e->nbits : (e->shift + e->nbits + 7) / 8;
        if (end > size) {
            PyErr_Format(PyExc_ValueError, "Plan: entry %zd ends past the record", i);
            goto fail;
        }
        Py_INCREF(name);
        PyUnicode_InternInPlace(&name);  /* the dict keys a source file writes are */
        e->name = name;
        if (e->kind == PLAN_INT) {
            int overflow;
            long long l = PyLong_AsLongLongAndOverflow(lo, &overflow);
            if (PyErr_Occurred() || overflow)
                goto bounds;
            e->is_signed = l < 0;
            if (e->is_signed) {
                e->slo = l;
                e->shi = PyLong_AsLongLongAndOverflow(hi, &overflow);
                if (PyErr_Occurred() || overflow)
                    goto bounds;
            } else {
                e->uhi = PyLong_AsUnsignedLongLong(hi);
                if (PyErr_Occurred())
                    goto bounds;
            }
        }
    }
    return (PyObject *)self;
bounds:
    PyErr_Clear();
    PyErr_Format(PyExc_ValueError, "Plan: bounds of entry %zd do not fit 64 bits", i);
fail:
    Py_DECREF(self);
    return NULL;
}

PyDoc_STRVAR(plan_pack_doc,
"pack(dict) -> bytes | None\n\n"
"The record's bytes for a dict of exactly the plan's fields, each a value the plan\n"
"takes as is; None for any other dict (the Python way then decides).");

static PyObject *plan_pack_method(Plan *self, PyObject *dict)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, self->size);
    int r;

    if (out == NULL)
        return NULL;
    r = plan_pack(self, dict, (unsigned char *)PyBytes_AS_STRING(out));
    if (r <= 0) {
        Py_DECREF(out);
        if (r < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    return out;
}

static PyMethodDef plan_methods[] = {
    {"pack", (PyCFunction)plan_pack_method, METH_O, plan_pack_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Plan_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py._speedups.Plan",
    .tp_doc = "Plan(size, entries): a dict of every field of a record, packed in C.",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = plan_new,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_methods = plan_methods,
};

/* -- MapBase --------------------------------------------------------------------------- */

/* What the value of a map on the C path is (the `fast` tuple's sixth item). */
enum { VALUE_INT = 0, VALUE_RECORD = 1, VALUE_PERCPU_INT = 2 };


typedef struct {
    PyObject_HEAD
    PyObject *elements;  /* Map's element state, or NULL */
    PyObject *fdref;     /* the owner of fd (fd_owner), or NULL */
    PyObject *record;    /* VALUE_RECORD: the ctypes record class, else NULL */
    PyObject *pack;      /* VALUE_RECORD: the codec's to_bytes (a dict's bytes), or NULL */
    PyObject *plan;      /* VALUE_RECORD: a Plan packing a dict of every field, or NULL */
    int fd;              /* the C path's fd, or -1: the C path is off: its own
                          * duplicate of the state's, which fdref closes */
    int state_fd;        /* the state's fd it duplicates (_fast_fd) */
    int key_size, key_signed, value_size, value_signed;
    int kind;            /* VALUE_INT, VALUE_RECORD or VALUE_PERCPU_INT */
    int ncpus;           /* VALUE_PERCPU_INT: values per element, one per possible CPU */
    int reuse;           /* VALUE_RECORD: the class's records can be reused (see spare) */
    /* The value the last m[k] returned (a record or a per-CPU list), kept to be
     * filled again by the next m[k] when nobody else holds it (its reference count
     * is 1: this one), so nothing can see it change. A record of a class whose
     * instances take weak references is never reused (a weak reference is not
     * counted), nor one with attributes in its __dict__ (the _ro_ mark). Its
     * buffer is asked for again at each reuse: ctypes.resize() moves it. */
    PyObject *spare;
} MapBase;

static PyObject *mapbase_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    MapBase *self = (MapBase *)type->tp_alloc(type, 0);
    if (self != NULL)
        self->fd = -1;
    return (PyObject *)self;
}

static int mapbase_traverse(MapBase *self, visitproc visit, void *arg)
{
    Py_VISIT(self->elements);
    Py_VISIT(self->record);
    Py_VISIT(self->pack);
    Py_VISIT(self->plan);
    Py_VISIT(self->spare);
    return 0;
}

static int mapbase_clear(MapBase *self)
{
    self->fd = -1;
    Py_CLEAR(self->spare);
    Py_CLEAR(self->record);
    Py_CLEAR(self->pack);
    Py_CLEAR(self->plan);
    Py_CLEAR(self->elements);
    Py_CLEAR(self->fdref);
    return 0;
}

static void mapbase_dealloc(MapBase *self)
{
    PyObject_GC_UnTrack(self);
    mapbase_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *mapbase_get_elements(MapBase *self, void *closure)
{
    PyObject *e = self->elements ? self->elements : Py_None;
    Py_INCREF(e);
    return e;
}

static int valid_size(int size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

/* The C path's own duplicate of a state's fd, closed when the last holder lets go of
 * this capsule: a state made by hand need not own the fd it names (the fd of a
 * Map that is closed later, whose number the next map then takes), so the C path
 * never acts on a number it does not own, and a call that runs Python in between
 * reading the fd and using it holds the capsule meanwhile. */
#define FD_OWNER_NAME "libbpf_py._speedups.fd"

static void fd_owner_close(PyObject *cap)
{
    void *p = PyCapsule_GetPointer(cap, FD_OWNER_NAME);
    if (p != NULL)
        close((int)((intptr_t)p - 1));
    else
        PyErr_Clear();
}

/* A capsule owning a new duplicate of fd (stored as fd + 1: never NULL), or NULL with
 * an exception; *dup is the duplicate. */
static PyObject *fd_owner_new(int fd, int *dup)
{
    PyObject *cap;
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    if (d < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    cap = PyCapsule_New((void *)((intptr_t)d + 1), FD_OWNER_NAME, fd_owner_close);
    if (cap == NULL) {
        close(d);
        return NULL;
    }
    *dup = d;
    return cap;
}

/* 0 if the map at fd is what a `fast` tuple says it is, else -1 with ValueError: the
 * kernel copies its own key and value sizes (a per-CPU map's value once per possible
 * CPU, each rounded up to 8 bytes: bpf_map_value_size() in kernel/bpf/syscall.c)
 * from and into the C path's buffers, which are sized by the tuple, so a tuple that
 * does not match its map (made by hand) would let the kernel read or write past them. */
static int check_map(int fd, int ks, int vs, int kind, int ncpus)
{
    struct bpf_map_info info;
    __u32 len = sizeof info;
    int err, percpu, cpus = 0;

    memset(&info, 0, sizeof info);
    err = api.obj_get_info_by_fd(fd, &info, &len);
    if (err != 0) {
        PyErr_Format(PyExc_ValueError, "_elements.fast: fd %d is not a BPF map (%s)", fd,
                     strerror(err < 0 ? -err : err));
        return -1;
    }
    percpu = info.type == BPF_MAP_TYPE_PERCPU_HASH || info.type == BPF_MAP_TYPE_PERCPU_ARRAY
             || info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH
             || info.type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
    if (kind == VALUE_PERCPU_INT && (cpus = api.num_possible_cpus()) <= 0) {
        PyErr_Format(PyExc_OSError, "libbpf_num_possible_cpus() failed (%d)", cpus);
        return -1;
    }
    if (info.key_size != (__u32)ks || info.value_size != (__u32)vs
        || percpu != (kind == VALUE_PERCPU_INT) || (percpu && ncpus != cpus)) {
        PyErr_Format(PyExc_ValueError, "_elements.fast: (key size %d, value size %d, %s) "
                     "does not match the map at fd %d (map type %u, key size %u, value "
                     "size %u%s)", ks, vs,
                     kind == VALUE_PERCPU_INT ? "per-CPU" : "not per-CPU", fd, info.type,
                     info.key_size, info.value_size,
                     percpu && ncpus != cpus ? ", another number of possible CPUs" : "");
        return -1;
    }
    return 0;
}

static int mapbase_set_elements(MapBase *self, PyObject *value, void *closure)
{
    PyObject *fast, *old, *old_record, *old_pack, *old_plan, *old_spare, *old_fdref,
        *extra = NULL, *record = NULL, *pack = NULL, *plan = NULL, *fdref = NULL;
    int own = -1, fd = -1, ks = 0, ksig = 0, vs = 0, vsig = 0, kind = VALUE_INT, ncpus = 0;

    if (value == NULL || value == Py_None) {
        self->fd = -1;
        old_spare = self->spare;
        self->spare = NULL;
        old_record = self->record;
        old_pack = self->pack;
        old_plan = self->plan;
        old_fdref = self->fdref;
        self->record = self->pack = self->plan = self->fdref = NULL;
        Py_CLEAR(self->elements);  /* NULL first, then the decref (Python may run) */
        Py_XDECREF(old_fdref);
        Py_XDECREF(old_spare);
        Py_XDECREF(old_record);
        Py_XDECREF(old_pack);
        Py_XDECREF(old_plan);
        return 0;
    }
    fast = PyObject_GetAttr(value, str_fast);  /* may run Python: nothing changed yet */
    if (fast == NULL)
        return -1;
    if (fast != Py_None) {
        if (!PyTuple_Check(fast)
            || !PyArg_ParseTuple(fast, "iipip|iOOO;_elements.fast must be (fd, key_size, "
                                 "key_signed, value_size, value_signed[, kind, extra"
                                 "[, pack[, plan]]])",
                                 &fd, &ks, &ksig, &vs, &vsig, &kind, &extra, &pack, &plan)) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "_elements.fast must be a tuple or None");
            Py_DECREF(fast);
            return -1;
        }
        if (fd < 0 || !valid_size(ks)) {
            Py_DECREF(fast);
            PyErr_SetString(PyExc_ValueError, "_elements.fast: bad fd or key size");
            return -1;
        }
        switch (kind) {
        case VALUE_INT:
            if (!valid_size(vs) || extra != NULL || pack != NULL || plan != NULL) {
                Py_DECREF(fast);
                PyErr_SetString(PyExc_ValueError, "_elements.fast: bad int value");
                return -1;
            }
            break;
        case VALUE_RECORD:
            /* the class makes the record; its buffer's length is checked on each
             * read against vs, so a class that lies cannot make C write past it */
            if (vs <= 0 || vs > MAX_C_VALUE || extra == NULL || !PyType_Check(extra)
                || (pack != NULL && !PyCallable_Check(pack))
                || (plan != NULL && plan != Py_None
                    && (!PyObject_TypeCheck(plan, &Plan_Type)
                        || ((Plan *)plan)->size != vs))) {
                Py_DECREF(fast);
                PyErr_SetString(PyExc_ValueError, "_elements.fast: bad record value");
                return -1;
            }
            record = extra;
            break;
        case VALUE_PERCPU_INT: {
            /* (range-checked as a long: 2**32 + 2 must not pass for 2) */
            long n = extra != NULL && PyLong_CheckExact(extra) ? PyLong_AsLong(extra) : -1;
            ncpus = n > 0 && n <= MAX_C_VALUE / 8 ? (int)n : -1;
            if (!valid_size(vs) || ncpus <= 0 || pack != NULL || plan != NULL) {
                Py_DECREF(fast);
                PyErr_Clear();
                PyErr_SetString(PyExc_ValueError, "_elements.fast: bad per-CPU value");
                return -1;
            }
            break;
        }
        default:
            Py_DECREF(fast);
            PyErr_SetString(PyExc_ValueError, "_elements.fast: unknown value kind");
            return -1;
        }
    }
    if (plan == Py_None)
        plan = NULL;
    Py_XINCREF(record);  /* before the tuple (which holds them) goes */
    Py_XINCREF(pack);
    Py_XINCREF(plan);
    Py_DECREF(fast);  /* may run Python (an item's __del__): nothing changed yet */
    /* The map itself, in a duplicate of the fd that only this object owns, checked
     * once no Python can run before the fields are set: nothing can give its fd
     * number to another map in between, nor after. */
    if (bound && fd >= 0
        && ((fdref = fd_owner_new(fd, &own)) == NULL
            || check_map(own, ks, vs, kind, ncpus) < 0)) {
        Py_XDECREF(fdref);  /* (a capsule: closes the duplicate, runs no Python) */
        Py_XDECREF(record);
        Py_XDECREF(pack);
        Py_XDECREF(plan);
        return -1;
    }
    /* The fields and the references change together, with no Python in between;
     * the old state goes last. Its __del__ (Python) may see another thread set a
     * newer state: that one's fields then agree with it, as these do with this. */
    old = self->elements;
    old_record = self->record;
    old_pack = self->pack;
    old_plan = self->plan;
    old_spare = self->spare;  /* a value of the old state: never one of this */
    old_fdref = self->fdref;
    self->spare = NULL;
    self->fdref = fdref;
    Py_INCREF(value);
    self->elements = value;
    self->record = record;
    self->pack = pack;
    self->plan = plan;
    if (bound && fd >= 0) {
        self->reuse = record != NULL && ((PyTypeObject *)record)->tp_weaklistoffset == 0;
        self->key_size = ks;
        self->key_signed = ksig;
        self->value_size = vs;
        self->value_signed = vsig;
        self->kind = kind;
        self->ncpus = ncpus;
        self->state_fd = fd;
        self->fd = own;
    } else {
        self->fd = -1;
    }
    Py_XDECREF(old_spare);
    Py_XDECREF(old_record);
    Py_XDECREF(old_pack);
    Py_XDECREF(old_plan);
    Py_XDECREF(old_fdref);
    Py_XDECREF(old);
    return 0;
}

/* Raise what Map._elem_error(err, op, key) builds (its own error if it fails);
 * returns NULL. */
static PyObject *call_elem_error(MapBase *self, int err, PyObject *op, PyObject *key)
{
    PyObject *code = PyLong_FromLong(err), *exc;
    if (code == NULL)
        return NULL;
    exc = PyObject_CallMethodObjArgs((PyObject *)self, str_elem_error, code, op, key, NULL);
    Py_DECREF(code);
    if (exc == NULL)
        return NULL;
    if (!PyExceptionInstance_Check(exc)) {
        Py_DECREF(exc);
        PyErr_SetString(PyExc_SystemError, "Map._elem_error must return an exception");
        return NULL;
    }
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* KeyError(key), as a dict's; returns NULL. */
static PyObject *key_error(PyObject *key)
{
    PyObject *t = PyTuple_Pack(1, key);
    if (t != NULL) {
        PyErr_SetObject(PyExc_KeyError, t);
        Py_DECREF(t);
    }
    return NULL;
}

/* A failed lookup's exception; returns NULL. */
static PyObject *lookup_error(MapBase *self, int ret, PyObject *key)
{
    if (ret == -ENOENT)
        return key_error(key);
    return call_elem_error(self, -ret, str_lookup, key);
}

/* 1 if obj has no attribute of its own in an instance __dict__ (or has no __dict__). */
static int no_instance_attrs(PyObject *obj)
{
    PyObject *d;
    Py_ssize_t n;

    if (Py_TYPE(obj)->tp_dictoffset == 0)
        return 1;
    d = PyObject_GenericGetDict(obj, NULL);  /* made once, then kept by obj */
    if (d == NULL) {
        PyErr_Clear();
        return 0;
    }
    n = PyDict_Check(d) ? PyDict_GET_SIZE(d) : 1;
    Py_DECREF(d);
    return n == 0;
}

/* Fill rec's buffer (exactly `size` bytes, the value size of the state whose fd
 * this is, read with it: a record ctypes.resize() grew is refused) with the value
 * at k, from the fd whose owner (fdref) is held meanwhile (asking for the buffer
 * may run Python: a class's own __buffer__). 0 done, 1 a buffer of another size
 * when !strict (no exception), -1 an exception (a failed lookup's, or SystemError
 * for another size when strict). */
static int fill_record(MapBase *self, PyObject *fdref, int fd, int size, PyObject *rec,
                       const elem_int *k, PyObject *key, int strict)
{
    int ret;
    Py_buffer view;

    Py_INCREF(fdref);
    if (PyObject_GetBuffer(rec, &view, PyBUF_WRITABLE) < 0) {
        Py_DECREF(fdref);
        return -1;
    }
    if (view.len != size) {
        if (strict)
            PyErr_Format(PyExc_SystemError, "a map value record has %zd bytes, the value %d",
                         view.len, size);
        PyBuffer_Release(&view);
        Py_DECREF(fdref);
        return strict ? -1 : 1;
    }
    ret = api.map_lookup_elem(fd, k, view.buf);
    PyBuffer_Release(&view);
    Py_DECREF(fdref);
    if (ret != 0) {
        lookup_error(self, ret, key);
        return -1;
    }
    return 0;
}

/* m[k] of a map of ctypes records: the spare record filled again when nobody else
 * holds it, else a new record, which the kernel fills in place and which becomes
 * the spare. Python may run on the way (the __dict__ check, making the record: a
 * GC pass, a __del__ that closes the map): the state is read again after it, and
 * the read goes to the fd it started with, whose owner (fdref) is held meanwhile. */
static PyObject *lookup_record(MapBase *self, const elem_int *k, PyObject *key)
{
    PyObject *elements, *fdref, *cls, *rec = self->spare, *old;
    elem_int again;
    int fd, size, r;

    if (rec != NULL && Py_REFCNT(rec) == 1 && self->reuse) {
        Py_INCREF(rec);  /* the caller's, if it is reused */
        /* the record is still this map's spare and only the caller's, after the
         * __dict__ check (which may allocate, and so run Python) */
        if (no_instance_attrs(rec) && self->spare == rec && Py_REFCNT(rec) == 2
            && self->fd >= 0 && self->kind == VALUE_RECORD) {
            r = fill_record(self, self->fdref, self->fd, self->value_size, rec, k, key, 0);
            if (r == 0)
                return rec;
            if (r < 0) {
                Py_DECREF(rec);
                return NULL;
            }
        }
        Py_DECREF(rec);
        if (self->fd < 0 || self->kind != VALUE_RECORD)  /* closed meanwhile */
            return PyObject_CallMethodOneArg((PyObject *)self, str_get, key);
        /* Python ran: the map may have another state now, whose key has another
         * size. The key is encoded again for the state whose fd is read below (a
         * key that does not fit it goes the general way, which raises). */
        if (encode_int(key, self->key_size, self->key_signed, &again) != 0)
            return PyObject_CallMethodOneArg((PyObject *)self, str_get, key);
        k = &again;
    }
    elements = self->elements;
    fdref = self->fdref;
    cls = self->record;
    fd = self->fd;
    size = self->value_size;  /* the fd's, read with it: making the record may run
                               * Python, which may give the map another state */
    Py_INCREF(elements);
    Py_INCREF(fdref);
    Py_INCREF(cls);
    rec = PyObject_CallNoArgs(cls);
    if (rec == NULL)
        goto done;
    if (fill_record(self, fdref, fd, size, rec, k, key, 1) < 0) {
        Py_CLEAR(rec);
        goto done;
    }
    /* Keep it as the spare when the map still has the state it was read with and
     * the record is exactly a new one of that class, held by the caller alone. */
    if (self->reuse && self->elements == elements && self->record == cls
        && Py_TYPE(rec) == (PyTypeObject *)cls && Py_REFCNT(rec) == 1) {
        old = self->spare;
        Py_INCREF(rec);
        self->spare = rec;
        Py_XDECREF(old);  /* last: it may run Python */
    }
done:
    Py_DECREF(cls);
    Py_DECREF(fdref);
    Py_DECREF(elements);
    return rec;
}

/* 1 if every item of `list` is an exact int: replacing them runs no Python. */
static int only_exact_ints(PyObject *list)
{
    Py_ssize_t i;

    for (i = 0; i < PyList_GET_SIZE(list); i++) {
        if (!PyLong_CheckExact(PyList_GET_ITEM(list, i)))
            return 0;
    }
    return 1;
}

/* m[k] of a per-CPU map of ints: a list of one int per possible CPU (each value
 * padded to 8 bytes, as the kernel lays them out). The list the last read returned
 * is filled again when nobody else holds it (a list takes no weak reference) and
 * it holds ints only: an item its user put there could run Python as it is
 * replaced (a __del__), which could find the list half filled (gc.get_referents
 * of the map, gc.get_referrers of an item) and change or keep it. */
static PyObject *lookup_percpu(MapBase *self, const elem_int *k, PyObject *key)
{
    unsigned char small[512], *buf = small;
    int n = self->ncpus, size = self->value_size, sig = self->value_signed, ret, i;
    PyObject *list = NULL, *old, *elements = self->elements;

    if ((size_t)n * 8 > sizeof small && (buf = PyMem_Malloc((size_t)n * 8)) == NULL)
        return PyErr_NoMemory();
    /* held until the end: making the list may run Python (a GC pass), which may
     * give the map a new state where this one was freed, which the identity check
     * below must not take for this one */
    Py_INCREF(elements);
    ret = api.map_lookup_elem(self->fd, k, buf);  /* no Python since the fd was read */
    if (ret != 0) {
        lookup_error(self, ret, key);
        goto done;
    }
    old = self->spare;
    if (old != NULL && Py_REFCNT(old) == 1 && PyList_CheckExact(old)
        && PyList_GET_SIZE(old) == n && only_exact_ints(old)) {
        list = old;
        Py_INCREF(list);  /* the caller's */
    } else {
        list = PyList_New(n);
        if (list == NULL)
            goto done;
    }
    for (i = 0; i < n; i++) {
        elem_int v;
        PyObject *item;
        const unsigned char *slot = buf + (size_t)i * 8;
        switch (size) {  /* constant sizes: copies the compiler inlines */
        case 1: memcpy(&v, slot, 1); break;
        case 2: memcpy(&v, slot, 2); break;
        case 4: memcpy(&v, slot, 4); break;
        default: memcpy(&v, slot, 8); break;
        }
        item = decode_int(&v, size, sig);
        if (item == NULL) {
            Py_CLEAR(list);
            goto done;
        }
        if (list == old) {
            PyObject *was = PyList_GET_ITEM(list, i);
            PyList_SET_ITEM(list, i, item);
            Py_DECREF(was);  /* an exact int: runs no Python */
        } else {
            PyList_SET_ITEM(list, i, item);
        }
    }
    if (list != old && self->elements == elements && self->fd >= 0) {
        /* the spare now, not `old`: making the list may have run Python (a GC
         * callback, a __del__) that read this map again and replaced the spare,
         * dropping old's reference already */
        old = self->spare;
        Py_INCREF(list);
        self->spare = list;
        Py_XDECREF(old);  /* last: it may run Python */
    }
done:
    if (buf != small)
        PyMem_Free(buf);
    Py_DECREF(elements);  /* last: the state's __del__ is Python */
    return list;
}

static PyObject *mapbase_subscript(MapBase *self, PyObject *key)
{
    if (self->fd >= 0 && PyLong_CheckExact(key)) {
        elem_int k, v;
        if (encode_int(key, self->key_size, self->key_signed, &k) == 0) {
            int ret;
            if (self->kind == VALUE_RECORD)
                return lookup_record(self, &k, key);
            if (self->kind == VALUE_PERCPU_INT)
                return lookup_percpu(self, &k, key);
            ret = api.map_lookup_elem(self->fd, &k, &v);
            if (ret == 0)
                return decode_int(&v, self->value_size, self->value_signed);
            return lookup_error(self, ret, key);
        }
    }
    return PyObject_CallMethodOneArg((PyObject *)self, str_get, key);
}

/* m[k] = v for a record of the map's own class (its bytes as they are) or a dict
 * (the bytes the codec's to_bytes packs, Python code: its errors are the general
 * path's). 1 done (*ret the update's return), 0 not taken (the general path's),
 * -1 an exception is set. */
static int update_record(MapBase *self, const elem_int *k, PyObject *value, int *ret)
{
    PyObject *elements, *fdref, *pack, *packed;
    Plan *plan;
    Py_buffer view;
    int fd, size, taken = 1;

    if (Py_TYPE(value) == (PyTypeObject *)self->record) {
        /* Asking for the buffer may run Python (from 3.12, a class's own __buffer__),
         * which may close the map or give it another state (another fd, key and
         * value size, kind): the write goes to the fd it started with (its owner
         * and the state held meanwhile), with the key encoded for it and the value
         * size read with it. */
        elements = self->elements;
        fdref = self->fdref;
        fd = self->fd;
        size = self->value_size;
        Py_INCREF(elements);
        Py_INCREF(fdref);
        if (PyObject_GetBuffer(value, &view, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();  /* the general path says what is wrong */
            taken = 0;
        } else {
            if (view.len != size)
                taken = 0;
            else
                *ret = api.map_update_elem(fd, k, view.buf, 0);
            PyBuffer_Release(&view);
        }
        Py_DECREF(fdref);
        Py_DECREF(elements);  /* last: the state's __del__ is Python */
        return taken;
    }
    if (!PyDict_CheckExact(value) || self->pack == NULL)
        return 0;
    /* The plan's key lookups and to_bytes may run Python: whatever it does (a close
     * of the map) leaves the fd whose owner is held here open, and the sizes
     * used are the ones read now. */
    elements = self->elements;
    fdref = self->fdref;
    pack = self->pack;
    plan = (Plan *)self->plan;
    fd = self->fd;
    size = self->value_size;
    Py_INCREF(elements);
    Py_INCREF(fdref);
    Py_INCREF(pack);
    Py_XINCREF(plan);
    if (plan != NULL) {
        unsigned char small[256], *buf = small;
        int r = 0;
        if ((size_t)size <= sizeof small || (buf = PyMem_Malloc((size_t)size)) != NULL) {
            r = plan_pack(plan, value, buf);  /* plan->size == size, checked when set */
            if (r > 0)
                *ret = api.map_update_elem(fd, k, buf, 0);
            if (buf != small)
                PyMem_Free(buf);
        }
        Py_DECREF(plan);
        if (r != 0) {
            Py_DECREF(pack);
            Py_DECREF(fdref);
            Py_DECREF(elements);
            return r;  /* 1 packed and written, -1 an exception */
        }
    }
    packed = PyObject_CallOneArg(pack, value);
    Py_DECREF(pack);
    if (packed == NULL || PyObject_GetBuffer(packed, &view, PyBUF_SIMPLE) < 0) {
        taken = -1;
        goto done;
    }
    if (view.len != size) {
        PyErr_Format(PyExc_SystemError, "a packed map value has %zd bytes, the value %d",
                     view.len, size);
        taken = -1;
    } else {
        *ret = api.map_update_elem(fd, k, view.buf, 0);
    }
    PyBuffer_Release(&view);
done:
    Py_XDECREF(packed);
    Py_DECREF(fdref);
    Py_DECREF(elements);
    return taken;
}

/* m[k] = v of a per-CPU int map: a list or tuple of one exact int per possible
 * CPU, or one exact int for every CPU. 1 done (*ret set), 0 not taken (a value
 * that does not fit, another type or length: the general path raises). */
static int update_percpu(MapBase *self, const elem_int *k, PyObject *value, int *ret)
{
    unsigned char small[512], *buf = small;
    int n = self->ncpus, size = self->value_size, sig = self->value_signed, i, taken = 0;
    Py_ssize_t len = n;
    PyObject *one = NULL;

    if (PyLong_CheckExact(value))
        one = value;
    else if (!(PyList_CheckExact(value) || PyTuple_CheckExact(value))
             || PySequence_Fast_GET_SIZE(value) != n)
        return 0;
    if ((size_t)len * 8 > sizeof small && (buf = PyMem_Calloc((size_t)len, 8)) == NULL)
        return 0;  /* the general path raises its MemoryError */
    if (buf == small)
        memset(small, 0, (size_t)len * 8);  /* the padding after each value: zeros */
    for (i = 0; i < n; i++) {
        PyObject *item = one != NULL ? one : PySequence_Fast_GET_ITEM(value, i);
        elem_int v;
        if (!PyLong_CheckExact(item) || encode_int(item, size, sig, &v) != 0)
            goto done;
        memcpy(buf + (size_t)i * 8, &v, (size_t)size);
    }
    /* exact ints only: nothing above ran Python, the fd is still this state's */
    *ret = api.map_update_elem(self->fd, k, buf, 0);
    taken = 1;
done:
    if (buf != small)
        PyMem_Free(buf);
    return taken;
}

static int mapbase_ass_subscript(MapBase *self, PyObject *key, PyObject *value)
{
    PyObject *r;

    if (self->fd >= 0 && PyLong_CheckExact(key)) {
        elem_int k, v;
        int ret = 0, taken = 0;
        if (encode_int(key, self->key_size, self->key_signed, &k) == 0) {
            if (value == NULL) {
                ret = api.map_delete_elem(self->fd, &k);
                taken = 1;
            } else if (self->kind == VALUE_RECORD) {
                taken = update_record(self, &k, value, &ret);
            } else if (self->kind == VALUE_PERCPU_INT) {
                taken = update_percpu(self, &k, value, &ret);
            } else if (PyLong_CheckExact(value)
                       && encode_int(value, self->value_size, self->value_signed, &v) == 0) {
                ret = api.map_update_elem(self->fd, &k, &v, 0);
                taken = 1;
            }
        }
        if (taken < 0)
            return -1;
        if (taken) {
            if (ret == 0)
                return 0;
            call_elem_error(self, -ret, value != NULL ? str_update : str_delete_op, key);
            return -1;
        }
    }
    if (value != NULL)
        r = PyObject_CallMethodObjArgs((PyObject *)self, str_update, key, value, NULL);
    else
        r = PyObject_CallMethodOneArg((PyObject *)self, str_delete, key);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *mapbase_fast_path(MapBase *self, void *closure)
{
    return PyBool_FromLong(self->fd >= 0);
}

static PyObject *mapbase_fast_fd(MapBase *self, void *closure)
{
    return PyLong_FromLong(self->fd >= 0 ? self->state_fd : -1);
}

static PyGetSetDef mapbase_getset[] = {
    {"_elements", (getter)mapbase_get_elements, (setter)mapbase_set_elements,
     "The map's element state (libbpf_py.map._Elements) or None.", NULL},
    {"_fast_path", (getter)mapbase_fast_path, NULL,
     "Whether m[k] / m[k] = v / del m[k] take the C int path now.", NULL},
    {"_fast_fd", (getter)mapbase_fast_fd, NULL,
     "The state's fd the C int path uses a duplicate of (-1: off); always "
     "_elements.fast[0] when on.", NULL},
    {NULL},
};

static PyMappingMethods mapbase_as_mapping = {
    .mp_subscript = (binaryfunc)mapbase_subscript,
    .mp_ass_subscript = (objobjargproc)mapbase_ass_subscript,
};

static PyTypeObject MapBase_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py._speedups.MapBase",
    .tp_doc = "C base of libbpf_py.map.Map: m[k], m[k] = v and del m[k].",
    .tp_basicsize = sizeof(MapBase),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = mapbase_new,
    .tp_dealloc = (destructor)mapbase_dealloc,
    .tp_traverse = (traverseproc)mapbase_traverse,
    .tp_clear = (inquiry)mapbase_clear,
    .tp_as_mapping = &mapbase_as_mapping,
    .tp_getset = mapbase_getset,
};

/* -- ring buffer records ---------------------------------------------------------------- */

/* The batch memory of one deliver() call: a buffer export of it, which keeps it
 * alive (and, for a resizable object, in place) for as long as a record view that
 * reads it lives. Nothing else: it exports nothing, and it holds no Python object
 * that could hold it back (no cycle, so no GC). */
typedef struct {
    PyObject_HEAD
    Py_buffer data;  /* data.obj == NULL: not held */
} Records;

static void records_dealloc(Records *self)
{
    if (self->data.obj != NULL)
        PyBuffer_Release(&self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject Records_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py._speedups._Records",
    .tp_basicsize = sizeof(Records),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)records_dealloc,
};

/* -- RecordView: what a ring buffer callback receives -------------------------------------
 *
 * A read-only bytes-like view of one record. deliver() points it at the record in
 * the batch memory (no copy, no allocation) and calls the callback. When the call
 * returns, deliver() looks at the view, and only deliver() can point it elsewhere:
 *
 * - nobody else holds it (its reference count is deliver()'s one, no export): it is
 *   not visible to any Python code, so deliver() points it at the next record;
 * - it was kept (a list, a closure, a traceback, the return value) and has no
 *   export: it is detached, i.e. it takes a copy of its record (a bytes object it
 *   owns) and reads that from now on; the next record gets a fresh view;
 * - it has an export (memoryview(view), view.cast(), numpy.frombuffer(view)...),
 *   which points into the batch memory: it stays on its record, keeps the batch
 *   memory alive (through `owner`), and deliver() tells its caller not to reuse
 *   that memory for other records.
 *
 * So a view, and everything made from it, shows its own record's bytes for as long
 * as it lives: `buf` changes only while no Python code can see the view, or (on
 * detaching) from the record to a copy of the same bytes while nothing exports it.
 * It is not weak-referenceable, not subclassable and cannot be made from Python. */
/* Where a view's buf points. A view in the ring (consume_rings: the kernel's ring
 * memory, valid only until the consumer position moves past the record) never lets
 * a pointer to it out: an export first copies the record into the view's own
 * scratch memory, and the view is settled (reused, or detached into a copy) before
 * the consumer position moves. */
enum { VIEW_BATCH, VIEW_RING, VIEW_SCRATCH, VIEW_COPIED, VIEW_RELEASED };

typedef struct {
    PyObject_HEAD
    const char *buf;
    Py_ssize_t len;
    Records *owner;   /* VIEW_BATCH: the batch memory buf points into; else NULL */
    char *scratch;    /* the view's own memory (VIEW_SCRATCH, VIEW_COPIED) */
    Py_ssize_t cap;   /* its size */
    Py_ssize_t exports;
    int state;
} RecordView;

static PyTypeObject RecordView_Type;

/* A view of batch memory (owner) or, owner NULL, of ring memory. */
static RecordView *recordview_new(Records *owner)
{
    RecordView *v = PyObject_New(RecordView, &RecordView_Type);
    if (v == NULL)
        return NULL;
    v->buf = NULL;
    v->len = 0;
    Py_XINCREF(owner);
    v->owner = owner;
    v->scratch = NULL;
    v->cap = 0;
    v->exports = 0;
    v->state = owner != NULL ? VIEW_BATCH : VIEW_RING;
    return v;
}

static void recordview_dealloc(RecordView *self)
{
    Py_XDECREF(self->owner);
    PyMem_Free(self->scratch);
    PyObject_Free(self);
}

/* The view's record into its scratch memory: 0, or -1 (MemoryError). Only with no
 * export (the scratch memory may move). */
static int recordview_to_scratch(RecordView *self)
{
    if (self->cap < self->len || self->scratch == NULL) {
        char *p = PyMem_Realloc(self->scratch, (size_t)(self->len > 0 ? self->len : 1));
        if (p == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        self->scratch = p;
        self->cap = self->len > 0 ? self->len : 1;
    }
    memcpy(self->scratch, self->buf, (size_t)self->len);
    self->buf = self->scratch;
    self->state = VIEW_SCRATCH;
    return 0;
}

/* Make a kept view read a copy of its record: 0, or -1 (MemoryError set; the view
 * is unchanged). Only with no export (buf is not pointed at by anything else). */
static int recordview_detach(RecordView *self)
{
    if (self->state == VIEW_BATCH || self->state == VIEW_RING) {
        Records *owner = self->owner;
        if (recordview_to_scratch(self) < 0)
            return -1;
        self->owner = NULL;
        Py_XDECREF(owner);  /* a Records, or NULL: runs no Python */
    } else if (self->state != VIEW_SCRATCH) {
        return 0;  /* already a copy */
    }
    self->state = VIEW_COPIED;
    return 0;
}

/* A view whose copy could not be made (no memory) when its record went away. */
static int recordview_released(RecordView *self)
{
    if (self->state != VIEW_RELEASED)
        return 0;
    PyErr_SetString(PyExc_ValueError, "this ring buffer record view was released: there was "
                    "no memory for its copy when its callback returned");
    return -1;
}

static int recordview_getbuffer(RecordView *self, Py_buffer *view, int flags)
{
    if (recordview_released(self) < 0)
        return -1;
    /* never a pointer into the ring out of this object: an export may outlive it */
    if (self->state == VIEW_RING && recordview_to_scratch(self) < 0)
        return -1;
    if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->buf, self->len, 1, flags) < 0)
        return -1;
    self->exports++;
    return 0;
}

static void recordview_releasebuffer(RecordView *self, Py_buffer *view)
{
    self->exports--;
}

static PyBufferProcs recordview_as_buffer = {
    .bf_getbuffer = (getbufferproc)recordview_getbuffer,
    .bf_releasebuffer = (releasebufferproc)recordview_releasebuffer,
};

static Py_ssize_t recordview_length(RecordView *self)
{
    return recordview_released(self) < 0 ? -1 : self->len;
}

static PyObject *recordview_item(RecordView *self, Py_ssize_t i)
{
    if (recordview_released(self) < 0)
        return NULL;
    if (i < 0 || i >= self->len) {
        PyErr_SetString(PyExc_IndexError, "record index out of range");
        return NULL;
    }
    return PyLong_FromLong((unsigned char)self->buf[i]);
}

/* view[i] is an int (a byte), view[a:b:c] a bytes copy of those bytes */
static PyObject *recordview_subscript(RecordView *self, PyObject *key)
{
    if (recordview_released(self) < 0)
        return NULL;
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step, n, i;
        PyObject *out;
        char *p;

        if (PySlice_Unpack(key, &start, &stop, &step) < 0)
            return NULL;
        n = PySlice_AdjustIndices(self->len, &start, &stop, step);
        if (step == 1)
            return PyBytes_FromStringAndSize(self->buf + start, n);
        out = PyBytes_FromStringAndSize(NULL, n);
        if (out == NULL)
            return NULL;
        p = PyBytes_AS_STRING(out);
        for (i = 0; i < n; i++, start += step)
            p[i] = self->buf[start];
        return out;
    }
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred())
            return NULL;
        return recordview_item(self, i < 0 ? i + self->len : i);
    }
    PyErr_Format(PyExc_TypeError, "record indices must be integers or slices, not %.100s",
                 Py_TYPE(key)->tp_name);
    return NULL;
}

static PyObject *recordview_richcompare(RecordView *self, PyObject *other, int op)
{
    Py_buffer b;
    int eq;

    if (recordview_released(self) < 0)
        return NULL;
    if ((op != Py_EQ && op != Py_NE) || !PyObject_CheckBuffer(other))
        Py_RETURN_NOTIMPLEMENTED;
    if (PyObject_GetBuffer(other, &b, PyBUF_SIMPLE) < 0) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    /* (buf cannot move meanwhile: only deliver() moves it, with no Python running) */
    eq = b.len == self->len && memcmp(b.buf, self->buf, (size_t)self->len) == 0;
    PyBuffer_Release(&b);
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *recordview_repr(RecordView *self)
{
    return PyUnicode_FromFormat("<RecordView of %zd bytes%s>", self->len,
                                self->state == VIEW_COPIED ? ", a copy"
                                : self->state == VIEW_RELEASED ? ", released" : "");
}

static PyObject *recordview_tobytes(RecordView *self, PyObject *unused)
{
    if (recordview_released(self) < 0)
        return NULL;
    return PyBytes_FromStringAndSize(self->buf, self->len);
}

/* obj.name(*args, **kwargs), with obj a new reference that this consumes (NULL: an
 * error already set) */
static PyObject *call_method_of(PyObject *obj, const char *name, PyObject *args,
                                PyObject *kwargs)
{
    PyObject *method, *r;

    if (obj == NULL)
        return NULL;
    method = PyObject_GetAttrString(obj, name);
    Py_DECREF(obj);
    if (method == NULL)
        return NULL;
    r = PyObject_Call(method, args, kwargs);
    Py_DECREF(method);
    return r;
}

static PyObject *recordview_hex(RecordView *self, PyObject *args)
{
    if (recordview_released(self) < 0)
        return NULL;
    return call_method_of(PyBytes_FromStringAndSize(self->buf, self->len), "hex", args, NULL);
}

static PyObject *recordview_tolist(RecordView *self, PyObject *unused)
{
    PyObject *list;
    Py_ssize_t i;

    if (recordview_released(self) < 0)
        return NULL;
    list = PyList_New(self->len);
    if (list == NULL)
        return NULL;
    for (i = 0; i < self->len; i++)
        PyList_SET_ITEM(list, i, PyLong_FromLong((unsigned char)self->buf[i]));
    return list;
}

/* view.cast(...) is memoryview(view).cast(...): a memoryview that exports the view */
static PyObject *recordview_cast(RecordView *self, PyObject *args, PyObject *kwargs)
{
    return call_method_of(PyMemoryView_FromObject((PyObject *)self), "cast", args, kwargs);
}

static PyObject *recordview_release(RecordView *self, PyObject *unused)
{
    Py_RETURN_NONE;  /* memoryview's name: a view's memory goes with the view */
}

static PyObject *recordview_enter(RecordView *self, PyObject *unused)
{
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *recordview_exit(RecordView *self, PyObject *args)
{
    Py_RETURN_FALSE;
}

static PyObject *recordview_get_nbytes(RecordView *self, void *closure)
{
    return PyLong_FromSsize_t(self->len);
}

static PyObject *recordview_get_copied(RecordView *self, void *closure)
{
    return PyBool_FromLong(self->state == VIEW_COPIED);
}

static PyObject *recordview_get_true(RecordView *self, void *closure)
{
    Py_RETURN_TRUE;
}

static PyMethodDef recordview_methods[] = {
    {"tobytes", (PyCFunction)recordview_tobytes, METH_NOARGS, "bytes(view)"},
    {"hex", (PyCFunction)recordview_hex, METH_VARARGS, "bytes(view).hex(...)"},
    {"tolist", (PyCFunction)recordview_tolist, METH_NOARGS, "list(view): the bytes as ints"},
    {"cast", (PyCFunction)(void (*)(void))recordview_cast, METH_VARARGS | METH_KEYWORDS,
     "memoryview(view).cast(...)"},
    {"release", (PyCFunction)recordview_release, METH_NOARGS,
     "Nothing to do (memoryview's name): a view's memory goes with its last reference."},
    {"__enter__", (PyCFunction)recordview_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)recordview_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef recordview_getset[] = {
    {"nbytes", (getter)recordview_get_nbytes, NULL, "the record's size in bytes", NULL},
    {"readonly", (getter)recordview_get_true, NULL, "always True", NULL},
    {"copied", (getter)recordview_get_copied, NULL,
     "True once the view reads a copy of its record (it was kept past its callback)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods recordview_as_sequence = {
    .sq_length = (lenfunc)recordview_length,
    .sq_item = (ssizeargfunc)recordview_item,
};

static PyMappingMethods recordview_as_mapping = {
    .mp_length = (lenfunc)recordview_length,
    .mp_subscript = (binaryfunc)recordview_subscript,
};

static PyTypeObject RecordView_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py.RecordView",
    .tp_doc = "A ring buffer record, read-only and bytes-like (the buffer protocol, len(), "
              "view[i], view[a:b] as bytes, ==), as a ring buffer callback receives it. "
              "Kept past its callback it reads a copy of its record.",
    .tp_basicsize = sizeof(RecordView),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)recordview_dealloc,
    .tp_repr = (reprfunc)recordview_repr,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_richcompare = (richcmpfunc)recordview_richcompare,
    .tp_as_buffer = &recordview_as_buffer,
    .tp_as_sequence = &recordview_as_sequence,
    .tp_as_mapping = &recordview_as_mapping,
    .tp_methods = recordview_methods,
    .tp_getset = recordview_getset,
};

enum { DELIVER_VIEW = 0, DELIVER_BYTES = 1, DELIVER_DECODE = 2 };

/* A sink (callback, mode, decode), parsed once for as long as records go to it. */
typedef struct {
    PyObject *tuple;  /* a reference, or NULL */
    PyObject *callback, *decode;
    long mode;
} Sink;

/* Make `sink` the tuple `tuple` (parsed unless it already is); 0 or -1. */
static int use_sink(Sink *sink, PyObject *tuple)
{
    PyObject *old;
    long mode;

    if (sink->tuple == tuple)
        return 0;
    if (!PyTuple_Check(tuple) || PyTuple_GET_SIZE(tuple) != 3) {
        PyErr_SetString(PyExc_TypeError, "deliver: a sink is (callback, mode, decode)");
        return -1;
    }
    /* held from here: `tuple` is borrowed from the caller's list, and the mode's
     * __index__ (Python) may take it out of that list */
    Py_INCREF(tuple);
    mode = PyLong_AsLong(PyTuple_GET_ITEM(tuple, 1));
    if (mode == -1 && PyErr_Occurred()) {
        Py_DECREF(tuple);
        return -1;
    }
    if (mode != DELIVER_VIEW && mode != DELIVER_BYTES && mode != DELIVER_DECODE) {
        PyErr_SetString(PyExc_ValueError, "deliver: unknown sink mode");
        Py_DECREF(tuple);
        return -1;
    }
    /* all fields first, the old tuple's decref (which may run Python) last */
    old = sink->tuple;
    sink->tuple = tuple;
    sink->callback = PyTuple_GET_ITEM(tuple, 0);
    sink->mode = mode;
    sink->decode = PyTuple_GET_ITEM(tuple, 2);
    Py_XDECREF(old);
    return 0;
}

/* After a callback: the view *viewp stays for the next record if nobody else sees it;
 * otherwise it is detached (a copy of its record) or, a batch view that something
 * exports (or whose copy cannot be made), left on the batch memory, which *retired
 * then says must not be reused. A ring view is always detached (an export of it is
 * of its scratch copy already); with no memory for its copy it is released (its
 * accessors raise ValueError), for its record is about to go. Either way *viewp
 * becomes NULL and the next record gets a fresh view. No Python code runs here,
 * and the error indicator is left as it was. settle_view() is the check made after
 * every record, inlined into the record loops (a call's register saves cost as much
 * as the check); settle_kept_view() the rest, out of line. */
static void settle_kept_view(RecordView **viewp, int *retired);

static inline __attribute__((always_inline)) void settle_view(RecordView **viewp,
                                                             int *retired)
{
    RecordView *v = *viewp;

    if (Py_REFCNT(v) == 1 && v->exports == 0)
        return;  /* not seen by anyone: reused */
    settle_kept_view(viewp, retired);
}

static __attribute__((noinline)) void settle_kept_view(RecordView **viewp, int *retired)
{
    RecordView *v = *viewp;

    if (v->state == VIEW_BATCH && v->exports > 0) {
        *retired = 1;
    } else {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (recordview_detach(v) < 0) {
            PyErr_Clear();
            if (v->state == VIEW_BATCH) {
                *retired = 1;  /* no memory for a copy: the view keeps the batch instead */
            } else {
                v->state = VIEW_RELEASED;
                v->buf = NULL;
                v->len = 0;
            }
        }
        PyErr_Restore(type, value, tb);
    }
    *viewp = NULL;
    Py_DECREF(v);  /* (not the last reference) */
}

/* A bytes copy of the record (mode 1), or decode(that copy) (mode 2), to the sink's
 * callback; the callback's result, or NULL. */
static __attribute__((noinline)) PyObject *deliver_bytes(const Sink *sink, const char *rec, Py_ssize_t len)
{
    PyObject *arg = PyBytes_FromStringAndSize(rec, len), *ret;

    if (arg == NULL)
        return NULL;
    if (sink->mode == DELIVER_DECODE) {
        PyObject *decoded = PyObject_CallOneArg(sink->decode, arg);
        Py_DECREF(arg);
        if (decoded == NULL)
            return NULL;
        arg = decoded;
    }
    ret = PyObject_CallOneArg(sink->callback, arg);
    Py_DECREF(arg);
    return ret;
}

/* Record rec[:len] to its sink, a record of the batch memory `owner` holds or, owner
 * NULL, of a ring: in the view *viewp (made when NULL; reused, it has no export and no
 * one else holds it), settled after the call. The callback's result, or NULL. */
static inline __attribute__((always_inline)) PyObject *
deliver_record(const Sink *sink, Records *owner, RecordView **viewp, int *retired,
               const char *rec, Py_ssize_t len)
{
    PyObject *ret;
    RecordView *v;

    if (sink->mode != DELIVER_VIEW)
        return deliver_bytes(sink, rec, len);
    v = *viewp;
    if (v == NULL && (v = *viewp = recordview_new(owner)) == NULL)
        return NULL;
    v->buf = rec;
    v->len = len;
    v->state = owner != NULL ? VIEW_BATCH : VIEW_RING;
    ret = PyObject_CallOneArg(sink->callback, (PyObject *)v);
    settle_view(viewp, retired);
    return ret;
}

/* The int 0 (CPython's one small-int object: what `return 0` gives), made at import. */
static PyObject *int_zero;

/* Whether a callback's result ret asks to stop: 1, 0, or -1 (an error of its __bool__).
 * None, False and 0, what callbacks return, are told by their identity alone: the
 * general truth test cost a fifth of the ring loop's own work per record. */
static inline int callback_stops(PyObject *ret)
{
    if (ret == Py_None || ret == Py_False || ret == int_zero)
        return 0;
    return PyObject_IsTrue(ret);
}

/* pos[0] = i (records handed over), pos[1] = whether the batch memory is still
 * in use by a record's view or an export of one; 0 or -1. */
static int set_pos(PyObject *pos, Py_ssize_t i, int retired)
{
    PyObject *n = PyLong_FromSsize_t(i);
    if (n == NULL)
        return -1;
    if (PyList_SetItem(pos, 0, n) < 0)  /* steals n */
        return -1;
    return PyList_SetItem(pos, 1, PyBool_FromLong(retired));
}

/* The native uint32 at p, at any address (the offsets and rings a caller passes
 * may be a buffer that starts at an odd one). */
static uint32_t load_u32(const char *p)
{
    uint32_t x;
    memcpy(&x, p, 4);
    return x;
}

PyDoc_STRVAR(deliver_doc,
"deliver(sinks, data, offsets, rings, start, end, pos) -> int\n\n"
"Hand records start..end-1 of a batch to their sinks; record i is\n"
"data[offsets[i]:offsets[i + 1]] (data: any buffer; offsets: native uint32), for sink\n"
"sinks[rings[i]] (rings: native uint32, or None for sinks[0]). A sink is\n"
"(callback, mode, decode): mode 0 passes a RecordView of the record (kept past\n"
"the call, it reads a copy of its record),\n"
"1 a bytes copy, 2 decode(bytes copy). Stops after a record whose callback\n"
"returns a true value. Returns the index reached and stores it in pos[0],\n"
"also when a callback raises (the record that raised counts as handed over);\n"
"pos[1] is True when an export of a record's view outlived its callback:\n"
"it keeps data alive, and data must not be overwritten with other records.");

static PyObject *speedups_deliver(PyObject *module, PyObject *args)
{
    PyObject *sinks, *data_obj, *rings_obj, *pos, *result = NULL;
    Py_buffer offs = {0}, rings = {0};
    Py_ssize_t start, end, i, data_len;
    const char *off, *ring = NULL;  /* native uint32 arrays, at any address */
    Records *exporter = NULL;
    RecordView *view = NULL;  /* the view for the next record, when one can be reused */
    int retired = 0;
    Sink sink = {NULL, NULL, NULL, 0};

    if (!PyArg_ParseTuple(args, "O!Oy*OnnO!:deliver", &PyList_Type, &sinks, &data_obj,
                          &offs, &rings_obj, &start, &end, &PyList_Type, &pos))
        return NULL;
    exporter = PyObject_New(Records, &Records_Type);
    if (exporter == NULL)
        goto out;
    exporter->data.obj = NULL;
    if (PyObject_GetBuffer(data_obj, &exporter->data, PyBUF_SIMPLE) < 0)
        goto out;
    if (rings_obj != Py_None && PyObject_GetBuffer(rings_obj, &rings, PyBUF_C_CONTIGUOUS) < 0)
        goto out;
    if (PyList_GET_SIZE(pos) < 2) {
        PyErr_SetString(PyExc_ValueError, "deliver: pos must have two items");
        goto out;
    }
    /* (divided, not multiplied: a huge end must not wrap around into range) */
    if (start < 0 || end < start || end >= offs.len / 4
        || (rings_obj != Py_None && end > rings.len / 4)) {
        PyErr_SetString(PyExc_ValueError, "deliver: start/end out of the batch");
        goto out;
    }
    off = offs.buf;
    if (rings_obj != Py_None)
        ring = rings.buf;
    data_len = exporter->data.len;
    for (i = start; i < end;) {
        uint32_t a = load_u32(off + 4 * i), b = load_u32(off + 4 * (i + 1));
        Py_ssize_t which = ring ? (Py_ssize_t)load_u32(ring + 4 * i) : 0;
        PyObject *ret;
        int stop;

        if (a > b || (Py_ssize_t)b > data_len) {
            PyErr_SetString(PyExc_ValueError, "deliver: record offsets out of the data");
            goto fail;
        }
        if (which >= PyList_GET_SIZE(sinks)) {  /* the list may change in a callback */
            PyErr_SetString(PyExc_ValueError, "deliver: record of an unknown ring");
            goto fail;
        }
        if (use_sink(&sink, PyList_GET_ITEM(sinks, which)) < 0)
            goto fail;
        i++;  /* handed over, whatever the callback does */
        ret = deliver_record(&sink, exporter, &view, &retired,
                             (const char *)exporter->data.buf + a, (Py_ssize_t)(b - a));
        if (ret == NULL)
            goto fail;
        stop = callback_stops(ret);
        Py_DECREF(ret);
        if (stop < 0)
            goto fail;
        if (stop)
            break;
    }
    if (set_pos(pos, i, retired) == 0)
        result = PyLong_FromSsize_t(i);
    goto out;
fail:
    {
        /* keep the callback's exception while pos is set */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (set_pos(pos, i, retired) < 0)
            PyErr_Clear();
        PyErr_Restore(type, value, tb);
    }
out:
    Py_XDECREF(sink.tuple);
    Py_XDECREF(view);
    Py_XDECREF(exporter);
    PyBuffer_Release(&offs);
    if (rings.obj != NULL)
        PyBuffer_Release(&rings);
    return result;
}

PyDoc_STRVAR(call_view_doc,
"call_view(callback, data[, first]) -> the callback's result\n\n"
"callback(view) (or callback(first, view)), view a RecordView of all of data (any\n"
"buffer, held while a view or an export of one reads it), settled afterwards as\n"
"deliver() settles its views.");

static PyObject *speedups_call_view(PyObject *module, PyObject *args)
{
    PyObject *callback, *data, *first = NULL, *ret;
    Records *exporter;
    RecordView *view;
    int retired = 0;

    if (!PyArg_ParseTuple(args, "OO|O:call_view", &callback, &data, &first))
        return NULL;
    exporter = PyObject_New(Records, &Records_Type);
    if (exporter == NULL)
        return NULL;
    exporter->data.obj = NULL;
    if (PyObject_GetBuffer(data, &exporter->data, PyBUF_SIMPLE) < 0) {
        Py_DECREF(exporter);
        return NULL;
    }
    view = recordview_new(exporter);
    if (view == NULL) {
        Py_DECREF(exporter);
        return NULL;
    }
    view->buf = exporter->data.buf;
    view->len = exporter->data.len;
    ret = first == NULL ? PyObject_CallOneArg(callback, (PyObject *)view)
                        : PyObject_CallFunctionObjArgs(callback, first, (PyObject *)view, NULL);
    settle_view(&view, &retired);
    Py_XDECREF(view);
    Py_DECREF(exporter);
    return ret;
}

/* -- consume_rings: ring buffer records read in place ------------------------------------
 *
 * The kernel's ring buffer layout (UAPI, include/uapi/linux/bpf.h and
 * kernel/bpf/ringbuf.c), mapped by RingBuffer (libbpf_py/ringbuf.py) as libbpf maps
 * it: the consumer page (read-write, the consumer position at its start) and, from
 * the next page on, the producer page (the producer position) followed by the data,
 * mapped twice in a row so that a record that wraps around the end is contiguous.
 * A record is an 8-byte header (its length, with a busy and a discard bit) and its
 * data, rounded up to 8 bytes. The producer publishes the header with a release
 * store; we read it with an acquire load, and publish the new consumer position
 * with a release store once a record's callback returned and its view was settled
 * (nothing points into the record after that: the kernel may reuse its space). */
#define RINGBUF_BUSY_BIT (1U << 31)
#define RINGBUF_DISCARD_BIT (1U << 30)
#define RINGBUF_HDR_SZ 8

PyDoc_STRVAR(consume_rings_doc,
"consume_rings(rings, sinks, limit) -> (count, stopped)\n\n"
"Hand every available record of each ring to its sink, reading it in place.\n"
"rings[i] is (consumer, data, offset, size): consumer a writable buffer of the\n"
"ring's consumer page, data a buffer of its producer page and data (the data at\n"
"offset, mapped twice: offset + 2 * size bytes), size a power of two; sinks[i]\n"
"its sink, as deliver() takes them. Stops after `limit` records (-1: none) or\n"
"after a record whose callback returns a true value (stopped is then True); a\n"
"callback's exception propagates, its record consumed.");

static PyObject *speedups_consume_rings(PyObject *module, PyObject *args)
{
    PyObject *rings, *sinks, *t = NULL;
    Py_ssize_t limit, count = 0, r;
    Py_buffer cb = {0}, db = {0};
    RecordView *view = NULL;
    Sink sink = {NULL, NULL, NULL, 0};
    int stopped = 0, failed = 0, full;

    if (!PyArg_ParseTuple(args, "O!O!n:consume_rings", &PyList_Type, &rings, &PyList_Type,
                          &sinks, &limit))
        return NULL;
    full = limit == 0;  /* (the limit is checked after each record: 0 takes none) */
    /* (the lists may change in a callback, e.g. RingBuffer.add: sizes are re-read) */
    for (r = 0; r < PyList_GET_SIZE(rings) && !stopped && !failed && !full; r++) {
        PyObject *cons_obj, *data_obj;
        Py_ssize_t offset, size;
        unsigned long *cons_ptr;
        const unsigned long *prod_ptr;
        const char *base;
        unsigned long cons, prod;

        t = PyList_GET_ITEM(rings, r);
        Py_INCREF(t);
        if (!PyTuple_Check(t)) {  /* (PyArg_ParseTuple would raise SystemError) */
            PyErr_Format(PyExc_TypeError, "consume_rings: a ring is a tuple (consumer, data, "
                         "offset, size), not %.100s", Py_TYPE(t)->tp_name);
            goto fail;
        }
        if (!PyArg_ParseTuple(t, "OOnn;consume_rings: a ring is (consumer, data, offset, size)",
                              &cons_obj, &data_obj, &offset, &size))
            goto fail;
        if (PyObject_GetBuffer(cons_obj, &cb, PyBUF_WRITABLE) < 0)
            goto fail;
        if (PyObject_GetBuffer(data_obj, &db, PyBUF_SIMPLE) < 0)
            goto fail;
        if (size < 2 * RINGBUF_HDR_SZ || (size & (size - 1)) != 0 || size > PY_SSIZE_T_MAX / 4
            || offset < (Py_ssize_t)sizeof(unsigned long) || offset % 8 != 0
            || offset > db.len || db.len - offset < 2 * size
            || cb.len < (Py_ssize_t)sizeof(unsigned long)
            || (uintptr_t)cb.buf % sizeof(unsigned long) != 0
            || (uintptr_t)db.buf % sizeof(unsigned long) != 0) {
            PyErr_SetString(PyExc_ValueError, "consume_rings: bad ring layout");
            goto fail;
        }
        if (r >= PyList_GET_SIZE(sinks)) {
            PyErr_SetString(PyExc_ValueError, "consume_rings: a ring without a sink");
            goto fail;
        }
        if (use_sink(&sink, PyList_GET_ITEM(sinks, r)) < 0)
            goto fail;
        cons_ptr = (unsigned long *)cb.buf;
        prod_ptr = (const unsigned long *)db.buf;
        base = (const char *)db.buf + offset;
        cons = __atomic_load_n(cons_ptr, __ATOMIC_ACQUIRE);
        if (cons % 8 != 0) {
            PyErr_SetString(PyExc_RuntimeError, "consume_rings: the ring's consumer position "
                            "is not a record's (another consumer wrote it?)");
            goto fail;
        }
        for (;;) {
            int got = 0;
            prod = __atomic_load_n(prod_ptr, __ATOMIC_ACQUIRE);
            while (cons < prod) {
                const uint32_t *hdr = (const uint32_t *)(base + (cons & (unsigned long)(size - 1)));
                uint32_t len = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
                uint32_t dlen = len & ~(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT);
                unsigned long next;

                if (len & RINGBUF_BUSY_BIT)
                    goto ring_done;  /* not committed yet: the next call takes it */
                if ((Py_ssize_t)dlen > size - RINGBUF_HDR_SZ) {
                    PyErr_Format(PyExc_RuntimeError, "consume_rings: a record of %u bytes in "
                                 "a ring of %zd", dlen, size);
                    goto fail;
                }
                next = cons + (((unsigned long)dlen + RINGBUF_HDR_SZ + 7) & ~7UL);
                got = 1;
                if (!(len & RINGBUF_DISCARD_BIT)) {
                    int retired = 0;  /* (a ring view is never left on the ring) */
                    PyObject *ret = deliver_record(&sink, NULL, &view, &retired,
                                                   (const char *)hdr + RINGBUF_HDR_SZ,
                                                   (Py_ssize_t)dlen);
                    int stop;
                    count++;
                    /* the view is settled: nothing points into the record any more */
                    __atomic_store_n(cons_ptr, next, __ATOMIC_RELEASE);
                    cons = next;
                    if (ret == NULL)
                        goto fail;
                    stop = callback_stops(ret);
                    Py_DECREF(ret);
                    if (stop < 0)
                        goto fail;
                    if (stop) {
                        stopped = 1;
                        goto ring_done;
                    }
                    if (limit >= 0 && count >= limit)
                        goto ring_done;
                } else {
                    __atomic_store_n(cons_ptr, next, __ATOMIC_RELEASE);
                    cons = next;
                }
            }
            if (!got)
                break;
        }
ring_done:
        if (limit >= 0 && count >= limit)
            full = 1;
        PyBuffer_Release(&cb);
        PyBuffer_Release(&db);
        Py_CLEAR(t);
        continue;
fail:
        failed = 1;
        if (cb.obj != NULL)
            PyBuffer_Release(&cb);
        if (db.obj != NULL)
            PyBuffer_Release(&db);
        Py_CLEAR(t);
    }
    Py_XDECREF(view);
    Py_XDECREF(sink.tuple);
    if (failed)
        return NULL;
    return Py_BuildValue("(nO)", count, stopped ? Py_True : Py_False);
}

/* -- pairs ------------------------------------------------------------------------------ */

/* The native int of format `fmt` (B b H h I i Q q) at p, as an int. p may be at any
 * address (a caller's buffer can start at an odd one: memoryview(b)[1:].cast("Q")),
 * so it is copied out, never dereferenced as a wider type. */
static PyObject *int_at(const char *p, char fmt)
{
    switch (fmt) {
    case 'B': { uint8_t x; memcpy(&x, p, 1); return PyLong_FromUnsignedLong(x); }
    case 'b': { int8_t x; memcpy(&x, p, 1); return PyLong_FromLong(x); }
    case 'H': { uint16_t x; memcpy(&x, p, 2); return PyLong_FromUnsignedLong(x); }
    case 'h': { int16_t x; memcpy(&x, p, 2); return PyLong_FromLong(x); }
    case 'I': { uint32_t x; memcpy(&x, p, 4); return PyLong_FromUnsignedLong(x); }
    case 'i': { int32_t x; memcpy(&x, p, 4); return PyLong_FromLong(x); }
    case 'Q': { uint64_t x; memcpy(&x, p, 8); return PyLong_FromUnsignedLongLong(x); }
    default: { int64_t x; memcpy(&x, p, 8); return PyLong_FromLongLong(x); }  /* 'q' */
    }
}

/* Item i of a 1-D int buffer of format B b H h I i Q q, as an int. */
static PyObject *int_item(const Py_buffer *b, Py_ssize_t i)
{
    return int_at((const char *)b->buf + i * b->itemsize, b->format[0]);
}

static int int_buffer(PyObject *obj, Py_buffer *b, const char *what)
{
    static const char sizes[] = "B1b1H2h2I4i4Q8q8";
    const char *f;

    if (PyObject_GetBuffer(obj, b, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    f = b->format ? b->format : "B";
    for (const char *s = sizes; *s; s += 2) {
        if (f[0] == s[0] && f[1] == 0 && b->ndim == 1 && b->itemsize == s[1] - '0')
            return 0;
    }
    PyErr_Format(PyExc_TypeError, "pairs: %s must be a 1-D buffer of native ints "
                 "(format B b H h I i Q q), not format %s", what, f);
    PyBuffer_Release(b);
    return -1;
}

/* Both int buffers of a (keys, values) pair, or neither (-1, an exception set). */
static int int_buffers(PyObject *keys_obj, PyObject *values_obj, Py_buffer *keys,
                       Py_buffer *values)
{
    if (int_buffer(keys_obj, keys, "keys") < 0)
        return -1;
    if (int_buffer(values_obj, values, "values") < 0) {
        PyBuffer_Release(keys);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(pairs_doc,
"pairs(keys, values) -> list\n\n"
"[(keys[0], values[0]), ...] for two 1-D native int buffers of one length\n"
"(memoryviews of format B b H h I i Q q). The tuples, which hold only ints,\n"
"are untracked by the cyclic GC as they are made, as CPython would do later.");

static PyObject *speedups_pairs(PyObject *module, PyObject *args)
{
    PyObject *keys_obj, *values_obj, *list = NULL;
    Py_buffer keys, values;
    Py_ssize_t n, i;
    int gc_was = 0;

    if (!PyArg_ParseTuple(args, "OO:pairs", &keys_obj, &values_obj)
        || int_buffers(keys_obj, values_obj, &keys, &values) < 0)
        return NULL;
    n = keys.len / keys.itemsize;
    if (values.len / values.itemsize != n) {
        PyErr_SetString(PyExc_ValueError, "pairs: keys and values differ in length");
        goto out;
    }
    list = PyList_New(n);
    if (list == NULL)
        goto out;
    /* No collection while the tuples are made: each allocation counts towards the
     * next one, and over 100k entries those passes (which walk the growing list
     * and, every so often, the whole heap) cost ~9 ns an entry, for nothing: the
     * list holds only untracked tuples of ints. No Python runs in the loop, and
     * the collector is on again (if it was) before anything else can run. */
    gc_was = PyGC_Disable();
    for (i = 0; i < n; i++) {
        PyObject *t = PyTuple_New(2), *k, *v;
        if (t == NULL)
            goto fail;
        PyList_SET_ITEM(list, i, t);
        if ((k = int_item(&keys, i)) == NULL)
            goto fail;
        PyTuple_SET_ITEM(t, 0, k);
        if ((v = int_item(&values, i)) == NULL)
            goto fail;
        PyTuple_SET_ITEM(t, 1, v);
        PyObject_GC_UnTrack(t);
    }
    goto out;
fail:
    Py_CLEAR(list);  /* the list's NULL items and partial tuples are fine to free */
out:
    if (gc_was)
        PyGC_Enable();
    PyBuffer_Release(&keys);
    PyBuffer_Release(&values);
    return list;
}

/* -- PairIter: one chunk of Map.items(), (key, value) per step -------------------------- */

/* An iterator over the first n entries of two 1-D int buffers, (key, value) tuples
 * made in C: Map.items() of int maps, a chunk at a time, with no list of keys or
 * values in between. The entries are copied when it is made (12 bytes an entry for
 * u32 keys and u64 values, against the ~100 ns each costs to read and make): it
 * reads its own memory, whatever happens to the buffers after. The tuple handed out
 * last is filled again while nobody but this iterator holds it (as zip() does: a
 * loop that unpacks it drops it at once); it holds ints only, so it is untracked
 * by the cyclic GC. clear() ends it (the map was closed). */
typedef struct {
    PyObject_HEAD
    char *keys, *values;     /* PyMem copies, NULL once released */
    Py_ssize_t ksize, vsize, pos, n;
    char kfmt, vfmt;
    PyObject *result;        /* the tuple handed out last, or NULL */
} PairIter;

static void pairiter_release(PairIter *self)
{
    self->n = 0;
    PyMem_Free(self->keys);
    PyMem_Free(self->values);
    self->keys = self->values = NULL;
}

static void pairiter_dealloc(PairIter *self)
{
    pairiter_release(self);
    Py_XDECREF(self->result);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A copy of the first n items of b (n checked against its length), or NULL. */
static char *copy_items(const Py_buffer *b, Py_ssize_t n)
{
    char *p = PyMem_Malloc(n > 0 ? (size_t)(n * b->itemsize) : 1);
    if (p == NULL)
        PyErr_NoMemory();
    else if (n > 0)
        memcpy(p, b->buf, (size_t)(n * b->itemsize));
    return p;
}

static PyObject *pairiter_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *keys_obj, *values_obj;
    Py_buffer keys, values;
    Py_ssize_t n;
    PairIter *self = NULL;

    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "PairIter takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OOn:PairIter", &keys_obj, &values_obj, &n)
        || int_buffers(keys_obj, values_obj, &keys, &values) < 0)
        return NULL;
    if (n < 0 || n > keys.len / keys.itemsize || n > values.len / values.itemsize) {
        PyErr_Format(PyExc_ValueError, "PairIter: %zd entries do not fit the buffers", n);
        goto out;
    }
    self = (PairIter *)type->tp_alloc(type, 0);  /* zeroed */
    if (self == NULL)
        goto out;
    self->keys = copy_items(&keys, n);
    self->values = self->keys != NULL ? copy_items(&values, n) : NULL;
    if (self->values == NULL) {
        Py_CLEAR(self);
        goto out;
    }
    self->ksize = keys.itemsize;
    self->vsize = values.itemsize;
    self->kfmt = keys.format[0];
    self->vfmt = values.format[0];
    self->n = n;
out:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&values);
    return (PyObject *)self;
}

static PyObject *pairiter_next(PairIter *self)
{
    PyObject *k, *v, *t = self->result;
    Py_ssize_t i = self->pos;

    if (i >= self->n) {
        pairiter_release(self);  /* done: the copies can go */
        return NULL;
    }
    self->pos = i + 1;
    if ((k = int_at(self->keys + i * self->ksize, self->kfmt)) == NULL)
        return NULL;
    if ((v = int_at(self->values + i * self->vsize, self->vfmt)) == NULL) {
        Py_DECREF(k);
        return NULL;
    }
    if (t != NULL && Py_REFCNT(t) == 1) {
        /* only this holds it: nobody sees it change. The old items are ints. */
        if (PyTuple_SetItem(t, 0, k) < 0) {
            Py_DECREF(v);
            return NULL;
        }
        if (PyTuple_SetItem(t, 1, v) < 0)
            return NULL;
        Py_INCREF(t);
        return t;
    }
    t = PyTuple_New(2);
    if (t == NULL) {
        Py_DECREF(k);
        Py_DECREF(v);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, k);
    PyTuple_SET_ITEM(t, 1, v);
    PyObject_GC_UnTrack(t);  /* two ints: no cycle through it */
    Py_INCREF(t);
    Py_XDECREF(self->result);  /* a tuple of ints: no Python */
    self->result = t;
    return t;
}

static PyObject *pairiter_clear(PairIter *self, PyObject *unused)
{
    pairiter_release(self);
    Py_RETURN_NONE;
}

static PyObject *pairiter_length_hint(PairIter *self, PyObject *unused)
{
    return PyLong_FromSsize_t(self->n > self->pos ? self->n - self->pos : 0);
}

static PyMethodDef pairiter_methods[] = {
    {"clear", (PyCFunction)pairiter_clear, METH_NOARGS,
     "clear(): stop at the next step and let the buffers go (the map was closed)."},
    {"__length_hint__", (PyCFunction)pairiter_length_hint, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PairIter_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py._speedups.PairIter",
    .tp_doc = "PairIter(keys, values, n): (key, value) of the first n entries of two "
              "1-D int buffers.",
    .tp_basicsize = sizeof(PairIter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = pairiter_new,
    .tp_dealloc = (destructor)pairiter_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)pairiter_next,
    .tp_methods = pairiter_methods,
};

/* -- GuardedExit ------------------------------------------------------------------------ */

/* A context manager's __enter__ and __exit__ with no Python function start in the way.
 *
 * CPython raises a signal's exception (KeyboardInterrupt) as a Python function starts
 * and as a call into C made from bytecode returns. A `with` block whose __exit__ is a
 * Python function can then lose it before its first line: a reservation neither
 * submitted nor discarded, a lock left held. Here __enter__ returns self in C, and
 * __exit__ calls the subclass's `_exit(*args)` until it returns, or until its
 * `_exit_done` is true (the exit's work is done, or cannot be: e.g. closed): each
 * exception (a signal's, raised as `_exit` starts or anywhere in it) is caught and the
 * call made again, and the first one is raised once `_exit` has done its work. A
 * genuine error of `_exit` (its `_exit_done` false) is retried a few times, then
 * raised. `_exit` must be safe to call again after any partial run. */

#define GUARDED_EXIT_ATTEMPTS 8

static PyObject *str_exit_impl, *str_exit_done;

static PyObject *guardedexit_enter(PyObject *self, PyObject *unused)
{
    Py_INCREF(self);
    return self;
}

/* fn(*args), called again while it raises, GUARDED_EXIT_ATTEMPTS calls at most: each
 * exception (a signal's, raised as fn starts or anywhere in it) is caught and the call
 * made again; the first one is kept. A RecursionError is not retried (a call at the
 * same depth fails alike, and an fn that calls this again would make 8 ** depth calls).
 * Without `guarded`: fn's result once a call returns (the exceptions before it go).
 * With `guarded` (the GuardedExit whose _exit fn is): no call again once its _exit_done
 * is true, and the first exception is raised even when a later call returned (the
 * exit's work is done; the signal must still reach the caller). NULL with the first
 * exception when no call returned. */
static PyObject *call_again(PyObject *fn, PyObject *args, PyObject *guarded)
{
    PyObject *type = NULL, *value = NULL, *tb = NULL, *res = NULL;
    int attempt;

    for (attempt = 0; attempt < GUARDED_EXIT_ATTEMPTS; attempt++) {
        PyObject *done;
        int stop;

        res = PyObject_Call(fn, args, NULL);
        if (res != NULL)
            break;
        stop = PyErr_ExceptionMatches(PyExc_RecursionError);
        if (type == NULL)
            PyErr_Fetch(&type, &value, &tb);
        else
            PyErr_Clear();  /* a later signal's: the first one is kept */
        if (!stop && guarded != NULL) {
            done = PyObject_GetAttr(guarded, str_exit_done);
            stop = done != NULL && PyObject_IsTrue(done) > 0;
            Py_XDECREF(done);
            PyErr_Clear();  /* (interrupted as well: look again after another call) */
        }
        if (stop)
            break;
    }
    if (res != NULL && (type == NULL || guarded == NULL)) {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return res;
    }
    Py_XDECREF(res);
    PyErr_Restore(type, value, tb);
    return NULL;
}

static PyObject *guardedexit_exit(PyObject *self, PyObject *args)
{
    PyObject *impl = PyObject_GetAttr(self, str_exit_impl), *res;

    if (impl == NULL)  /* (a method's look-up runs no Python: no signal is raised in it) */
        return NULL;
    res = call_again(impl, args, self);
    Py_DECREF(impl);
    return res;
}

PyDoc_STRVAR(retry_doc,
"retry(fn, *args): fn(*args), called again while it raises (a few times at most); its\n"
"result, or the first exception once every call raised.\n\n"
"For cleanups that must run to their end although a signal arrives (KeyboardInterrupt,\n"
"raised as a Python function starts and as a call into C returns): from C, no signal\n"
"can stop the retrying itself. ``fn`` must be safe to run again after a partial run.");

static PyObject *speedups_retry(PyObject *module, PyObject *args)
{
    PyObject *rest, *res;

    if (PyTuple_GET_SIZE(args) < 1) {
        PyErr_SetString(PyExc_TypeError, "retry() needs a function to call");
        return NULL;
    }
    rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    if (rest == NULL)
        return NULL;
    /* (the signal's exception of a call that a later one ran to its end goes: the
     * caller's own exception is still raised after it) */
    res = call_again(PyTuple_GET_ITEM(args, 0), rest, NULL);
    Py_DECREF(rest);
    return res;
}

static PyMethodDef guardedexit_methods[] = {
    {"__enter__", guardedexit_enter, METH_NOARGS, "Return self."},
    {"__exit__", guardedexit_exit, METH_VARARGS,
     "Call self._exit(*args) until it returns or self._exit_done is true; the first "
     "exception is raised."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject GuardedExit_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py._speedups.GuardedExit",
    .tp_doc = "Base of context managers whose exit must run although a signal arrives "
              "(subclasses define _exit(exc_type, exc, tb) and _exit_done).",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_methods = guardedexit_methods,
};
/* -- unwait: OwnedLock's cleanup (libbpf_py/_buffers.py) ------------------------------ */

/* Thread `me` leaves `lock` (an OwnedLock), `graph` held: its wait for it forgotten
 * (lock._sleepers.pop(me, None)); if it owns the lock, the lock handed to its first
 * waiter as OwnedLock._hand_over does (owner = waiter, waiting_for.pop(waiter), its
 * sleeper lock released, which wakes it), or freed. Runs no Python code. */
/* del d[key] if it is there: 0, or -1 with an exception. */
static int dict_discard(PyObject *d, PyObject *key)
{
    if (PyDict_GetItemWithError(d, key) != NULL)
        return PyDict_DelItem(d, key);
    return PyErr_Occurred() ? -1 : 0;
}

static int unwait_one(PyObject *lock, PyObject *waiting_for, PyObject *me)
{
    PyObject *sleepers, *owner, *waiter = NULL, *sleeper = NULL, *r;
    Py_ssize_t pos = 0;
    int mine, err = -1;

    sleepers = PyObject_GetAttr(lock, str_sleepers);
    if (sleepers == NULL)
        return -1;
    if (!PyDict_Check(sleepers)) {
        PyErr_SetString(PyExc_TypeError, "unwait: a lock's _sleepers must be a dict");
        goto done;
    }
    if (dict_discard(sleepers, me) < 0)
        goto done;
    owner = PyObject_GetAttr(lock, str_owner);
    if (owner == NULL)
        goto done;
    mine = PyObject_RichCompareBool(owner, me, Py_EQ);
    Py_DECREF(owner);
    if (mine <= 0) {
        err = mine;
        goto done;
    }
    if (!PyDict_Next(sleepers, &pos, &waiter, &sleeper)) {
        err = PyObject_SetAttr(lock, str_owner, int_zero);
        goto done;
    }
    Py_INCREF(waiter);
    Py_INCREF(sleeper);
    if (PyDict_DelItem(sleepers, waiter) < 0 || PyObject_SetAttr(lock, str_owner, waiter) < 0)
        goto done;
    if (dict_discard(waiting_for, waiter) < 0)
        goto done;
    r = PyObject_CallMethodNoArgs(sleeper, str_release);
    if (r == NULL)
        goto done;
    Py_DECREF(r);
    err = 0;
done:
    Py_XDECREF(waiter);
    Py_XDECREF(sleeper);
    Py_DECREF(sleepers);
    return err;
}

PyDoc_STRVAR(unwait_doc,
"unwait(graph, waiting_for, locks, me): thread ``me`` leaves the OwnedLocks ``locks``\n"
"(a list, None items skipped), last first, under the lock ``graph``: its wait for each\n"
"forgotten, each it owns handed to its first waiter or freed; then ``waiting_for``\n"
"(ident -> the lock it waits for) forgets ``me``.\n\n"
"The cleanup of an exception (KeyboardInterrupt) while ``me`` took them, in C: CPython\n"
"runs a signal's handler as a call made from bytecode returns and as a Python function\n"
"starts, so a second signal could stop Python code half way, ``me`` left queued (a\n"
"release then handed it the lock as it left) or owning a lock. One call, nothing half\n"
"done. Waiting for ``graph`` can be interrupted (the main thread): the handler's\n"
"exception is kept, the wait resumed, and the exception raised once all is done.");

static PyObject *unwait_locks(PyObject *graph, PyObject *waiting_for, PyObject *locks,
                              PyObject *me)
{
    PyObject *acquire, *r;
    PyObject *exc_type = NULL, *exc_value = NULL, *exc_tb = NULL;
    Py_ssize_t i;
    int tries = 0;

    acquire = PyObject_GetAttr(graph, str_acquire);
    if (acquire == NULL)
        return NULL;
    /* A lock's acquire() fails only when a signal's handler raised while it waited:
     * wait again (a thousand failures in a row: not a lock, give up, nothing done). */
    while ((r = PyObject_CallNoArgs(acquire)) == NULL) {
        Py_XDECREF(exc_type);
        Py_XDECREF(exc_value);
        Py_XDECREF(exc_tb);
        if (++tries == 1000) {
            Py_DECREF(acquire);
            return NULL;
        }
        PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    }
    Py_DECREF(acquire);
    Py_DECREF(r);
    /* (no Python code of an OwnedLock runs from here to graph's release; another
     * object's attributes may be Python code that shortens the list: its length is
     * looked at again for each item) */
    for (i = PyList_GET_SIZE(locks) - 1; i >= 0; i--) {
        PyObject *lock;

        if (i >= PyList_GET_SIZE(locks))
            continue;
        lock = PyList_GET_ITEM(locks, i);
        if (lock == Py_None)
            continue;
        Py_INCREF(lock);
        /* The first exception is kept: the one of the wait for graph (a signal's, which
         * the docstring promises to raise), else the first lock's error; the other
         * locks are left all the same. */
        if (unwait_one(lock, waiting_for, me) < 0 && exc_type == NULL)
            PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
        PyErr_Clear();
        Py_DECREF(lock);
    }
    (void)dict_discard(waiting_for, me);
    PyErr_Clear();
    r = PyObject_CallMethodNoArgs(graph, str_release);
    if (r == NULL) {
        Py_XDECREF(exc_type);
        Py_XDECREF(exc_value);
        Py_XDECREF(exc_tb);
        return NULL;
    }
    Py_DECREF(r);
    if (exc_type != NULL) {
        PyErr_Restore(exc_type, exc_value, exc_tb);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *speedups_unwait(PyObject *module, PyObject *args)
{
    PyObject *graph, *waiting_for, *locks, *me;

    if (!PyArg_ParseTuple(args, "OO!O!O:unwait", &graph, &PyDict_Type, &waiting_for,
                          &PyList_Type, &locks, &me))
        return NULL;
    return unwait_locks(graph, waiting_for, locks, me);
}

/* -- LockExit, LocksExit: OwnedLock's and ConsumeLock's __exit__ ----------------------- */

/* The `with` exit of the buffer locks (libbpf_py/_buffers.py), in C: a Python __exit__
 * could be cut short by a signal's exception (KeyboardInterrupt, raised as a Python
 * function starts) before its first line, the lock left held for good. This is
 * unwait() for the calling thread: LockExit frees the lock itself, LocksExit those of
 * its `all` list this thread owns; each goes to its first waiter. The graph lock and
 * the waits dict are _buffers.py's, given once by lock_graph(). */

static PyObject *lock_graph_obj, *lock_waiting_for;

PyDoc_STRVAR(lock_graph_doc,
"lock_graph(graph, waiting_for): the lock that guards every OwnedLock's owner and the\n"
"dict of who waits for what, as LockExit / LocksExit use them (set once, by _buffers).");

static PyObject *speedups_lock_graph(PyObject *module, PyObject *args)
{
    PyObject *graph, *waiting_for, *old_graph, *old_waits;

    if (!PyArg_ParseTuple(args, "OO!:lock_graph", &graph, &PyDict_Type, &waiting_for))
        return NULL;
    old_graph = lock_graph_obj;
    old_waits = lock_waiting_for;
    /* both set, then the old ones dropped: a drop may run Python (a __del__) that calls
     * lock_graph() again, whose pair must then be the one left, not half of it */
    Py_INCREF(graph);
    Py_INCREF(waiting_for);
    lock_graph_obj = graph;
    lock_waiting_for = waiting_for;
    Py_XDECREF(old_graph);
    Py_XDECREF(old_waits);
    Py_RETURN_NONE;
}

static PyObject *exit_locks(PyObject *locks)
{
    PyObject *me, *graph, *waiting_for, *r;

    if (lock_graph_obj == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "lock_graph() was not called");
        return NULL;
    }
    if (!PyList_Check(locks)) {
        PyErr_SetString(PyExc_TypeError, "a ConsumeLock's 'all' must be a list");
        return NULL;
    }
    me = PyLong_FromUnsignedLong(PyThread_get_thread_ident());  /* threading.get_ident() */
    if (me == NULL)
        return NULL;
    /* held for the call: Python it runs (a lock's attribute) may call lock_graph()
     * again, which drops the module's references to these two */
    graph = lock_graph_obj;
    waiting_for = lock_waiting_for;
    Py_INCREF(graph);
    Py_INCREF(waiting_for);
    r = unwait_locks(graph, waiting_for, locks, me);
    Py_DECREF(me);
    Py_DECREF(waiting_for);
    Py_DECREF(graph);
    return r;
}

static PyObject *lockexit_exit(PyObject *self, PyObject *args)
{
    PyObject *locks = PyList_New(1), *r;

    if (locks == NULL)
        return NULL;
    Py_INCREF(self);
    PyList_SET_ITEM(locks, 0, self);
    r = exit_locks(locks);
    Py_DECREF(locks);
    return r;
}

static PyObject *locksexit_exit(PyObject *self, PyObject *args)
{
    PyObject *locks = PyObject_GetAttrString(self, "all"), *r;

    if (locks == NULL)
        return NULL;
    r = exit_locks(locks);
    Py_DECREF(locks);
    return r;
}

static PyMethodDef lockexit_methods[] = {
    {"__exit__", lockexit_exit, METH_VARARGS,
     "Free the lock (this thread's), handed to its first waiter; exceptions go on."},
    {NULL, NULL, 0, NULL},
};

static PyMethodDef locksexit_methods[] = {
    {"__exit__", locksexit_exit, METH_VARARGS,
     "Free the locks of self.all this thread owns, last first, each handed to its first "
     "waiter; exceptions go on."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LockExit_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py._speedups.LockExit",
    .tp_doc = "Base of OwnedLock: its with-exit, in C.",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_methods = lockexit_methods,
};

static PyTypeObject LocksExit_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "libbpf_py._speedups.LocksExit",
    .tp_doc = "Base of ConsumeLock: its with-exit, in C (the locks of self.all).",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_methods = locksexit_methods,
};

/* -- module ----------------------------------------------------------------------------- */

static PyMethodDef speedups_methods[] = {
    {"bind", speedups_bind, METH_NOARGS,
     "bind(): take libbpf's functions from the capsule " LIBBPF_PY_SPEEDUPS_CAPSULE "."},
    {"deliver", speedups_deliver, METH_VARARGS, deliver_doc},
    {"call_view", speedups_call_view, METH_VARARGS, call_view_doc},
    {"consume_rings", speedups_consume_rings, METH_VARARGS, consume_rings_doc},
    {"retry", speedups_retry, METH_VARARGS, retry_doc},
    {"lock_graph", speedups_lock_graph, METH_VARARGS, lock_graph_doc},
    {"pairs", speedups_pairs, METH_VARARGS, pairs_doc},
    {"unwait", speedups_unwait, METH_VARARGS, unwait_doc},
    {NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "libbpf_py._speedups",
    .m_doc = "C speedups of libbpf_py: Map's int element path, ring buffer delivery.",
    .m_size = -1,
    .m_methods = speedups_methods,
};

#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC PyInit__speedups(void)
{
    PyObject *m;

    INTERN(str_get, "_get");
    INTERN(str_update, "update");
    INTERN(str_delete, "_delete");
    INTERN(str_elem_error, "_elem_error");
    INTERN(str_fast, "fast");
    INTERN(str_lookup, "lookup");
    INTERN(str_delete_op, "delete");
    INTERN(str_exit_impl, "_exit");
    INTERN(str_exit_done, "_exit_done");
    INTERN(str_acquire, "acquire");
    INTERN(str_release, "release");
    INTERN(str_owner, "owner");
    INTERN(str_sleepers, "_sleepers");
    if (int_zero == NULL && (int_zero = PyLong_FromLong(0)) == NULL)
        return NULL;
    /* the types, by the name the module gives them (Records_Type: no name of its own) */
    struct { const char *name; PyTypeObject *type; } types[] = {
        {"MapBase", &MapBase_Type}, {NULL, &Records_Type}, {"Plan", &Plan_Type},
        {"RecordView", &RecordView_Type}, {"PairIter", &PairIter_Type},
        {"GuardedExit", &GuardedExit_Type}, {"LockExit", &LockExit_Type},
        {"LocksExit", &LocksExit_Type},
    };
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (PyType_Ready(types[i].type) < 0)
            return NULL;
    m = PyModule_Create(&speedups_module);
    if (m == NULL)
        return NULL;
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (types[i].name == NULL)
            continue;
        Py_INCREF(types[i].type);
        if (PyModule_AddObject(m, types[i].name, (PyObject *)types[i].type) < 0) {
            Py_DECREF(types[i].type);
            Py_DECREF(m);
            return NULL;
        }
    }
    return m;
}
