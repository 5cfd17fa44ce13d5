// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The C side of bench/run.py: the same workloads as bench/impl_libbpf_py.py,
 * calling libbpf directly. Compiled at run time against the libbpf the
 * bindings link (bench/toolchain.py).
 *
 *   bench_c GROUP BENCH_OBJ SMALL_OBJ N REPEATS
 *
 * prints one JSON line per metric: {"metric": "...", "runs": [...], "check": n}.
 * Units: ns per op (1-*, 3-*, 7-*), M entries or records per second (2-*, 4-*),
 * ms per open+load+close (5-load).
 *
 * The points of `run.py --scaling` (bench/scaling.py), one per call:
 *
 *   bench_c scale-map ENTRIES LOOPS REPEATS CHUNK
 *   bench_c scale-ring CURVE OBJ SIZE RINGS RECORDS REPEATS RING_BYTES
 *   bench_c scale-load OBJ MAPS REPEATS
 *
 * print {"curve": "...", "series": "...", "x": x, "runs": [...], "check": n}.
 */
#define _GNU_SOURCE	/* RUSAGE_THREAD */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#define OPS_KEYS 10000
#define CHUNK 4096
#define RING_ROUND 100000
#define SVAL_KEYS 1024

/* bench/bpf/bench.bpf.c's struct sval: the value of the `svals` map (workload 7) */
struct sval {
	__u32 id;
	__s32 delta;
	__u64 bytes;
	char tag[6];
	__u16 kind: 4;
	__u16 level: 12;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_c: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

/* A metric's line; `faults` (page faults per run, the median) only when >= 0. */
static void emit_row(const char *metric, const double *runs, int n, long long check,
		     double faults)
{
	printf("{\"metric\": \"%s\", \"runs\": [", metric);
	for (int i = 0; i < n; i++)
		printf("%s%.6f", i ? ", " : "", runs[i]);
	printf("], \"check\": %lld", check);
	if (faults >= 0)
		printf(", \"faults\": %.1f", faults);
	printf("}\n");
	fflush(stdout);
}

static void emit_runs(const char *metric, const double *runs, int n, long long check)
{
	emit_row(metric, runs, n, check, -1);
}

/* Page faults this thread has taken so far (minor: memory the kernel maps on first touch). */
static long minor_faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru))
		die("getrusage", errno);
	return ru.ru_minflt;
}

static struct bpf_object *open_load(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	int err;

	if (!obj)
		die("bpf_object__open_file", errno);
	err = bpf_object__load(obj);
	if (err)
		die("bpf_object__load", err);
	return obj;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);

	if (!map)
		die(name, ENOENT);
	return bpf_map__fd(map);
}

static int prog_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, name);

	if (!prog)
		die(name, ENOENT);
	return bpf_program__fd(prog);
}

static void test_run(int fd, int repeat)
{
	char packet[64] = {0};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet),
		    .repeat = repeat);
	int err = bpf_prog_test_run_opts(fd, &opts);

	if (err)
		die("bpf_prog_test_run_opts", err);
}

/* 1: one update, then one lookup, at a time; 4-byte keys cycling over OPS_KEYS. */
static void group1(struct bpf_object *obj, long n, int repeats)
{
	int fd = map_fd(obj, "ops");
	__u32 *keys = malloc(n * sizeof(*keys));
	double *upd = calloc(repeats, sizeof(double)), *look = calloc(repeats, sizeof(double));
	long long sum = 0;

	for (long i = 0; i < n; i++)
		keys[i] = i % OPS_KEYS;
	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();

		for (long i = 0; i < n; i++) {
			__u64 v = keys[i];

			if (bpf_map_update_elem(fd, &keys[i], &v, BPF_ANY))
				die("bpf_map_update_elem", errno);
		}
		double t1 = now_ns();

		sum = 0;
		for (long i = 0; i < n; i++) {
			__u64 v;

			if (bpf_map_lookup_elem(fd, &keys[i], &v))
				die("bpf_map_lookup_elem", errno);
			sum += v;
		}
		double t2 = now_ns();

		upd[r] = (t1 - t0) / n;
		look[r] = (t2 - t1) / n;
	}
	emit_runs("1-update", upd, repeats, n);
	emit_runs("1-lookup", look, repeats, sum);
	free(keys);
	free(upd);
	free(look);
}

/* 2-fault: what one page fault costs here, in ns. A Python list of new tuples lives in
 * memory that CPython's allocator maps fresh (1 MiB arenas, unmapped again when the list
 * is freed), so every read of the map as a list pays the kernel to map and zero those
 * pages on first touch; C's batch read reuses its buffers and takes none. This maps
 * FAULT_ARENAS arenas' worth, writes a byte per page, and divides the time by the faults
 * counted (with transparent huge pages, fewer than the pages). */
#define FAULT_ARENAS 8
#define ARENA_BYTES (1L << 20)
static void fault_cost(int repeats)
{
	long page = sysconf(_SC_PAGESIZE);
	double *runs = calloc(repeats, sizeof(double));
	char *arena[FAULT_ARENAS];
	long faults = 0;

	for (int r = 0; r < repeats; r++) {
		long f0 = minor_faults();
		double t0 = now_ns();

		for (int a = 0; a < FAULT_ARENAS; a++) {
			arena[a] = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (arena[a] == MAP_FAILED)
				die("mmap", errno);
			for (long off = 0; off < ARENA_BYTES; off += page)
				arena[a][off] = 1;
		}
		runs[r] = now_ns() - t0;
		faults = minor_faults() - f0;
		if (faults < 1)
			die("no page fault counted on fresh memory", EIO);
		runs[r] /= faults;
		for (int a = 0; a < FAULT_ARENAS; a++)
			munmap(arena[a], ARENA_BYTES);
	}
	emit_row("2-fault", runs, repeats, faults, faults);
	free(runs);
}

/* 2: fill `big` with n entries, then read them all: lookup_batch, then get_next_key. */
static void group2(struct bpf_object *obj, long n, int repeats)
{
	int fd = map_fd(obj, "big");
	__u32 *keys = malloc((n + CHUNK) * sizeof(*keys));
	__u64 *vals = malloc((n + CHUNK) * sizeof(*vals));
	double *batch = calloc(repeats, sizeof(double)), *iter = calloc(repeats, sizeof(double));
	long got = 0, faults = 0;

	for (long i = 0; i < n; i++) {
		keys[i] = i;
		vals[i] = i * 3;
	}
	__u32 count = n;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	if (bpf_map_update_batch(fd, keys, vals, &count, &opts))
		die("bpf_map_update_batch", errno);
	for (int r = 0; r < repeats; r++) {
		__u64 in = 0, out = 0;
		void *in_batch = NULL;
		long f0 = minor_faults();
		double t0 = now_ns();

		got = 0;
		for (;;) {
			int err;

			count = CHUNK;	/* room for CHUNK more: keys and vals have n + CHUNK slots */
			err = bpf_map_lookup_batch(fd, in_batch, &out, keys + got, vals + got, &count,
						   &opts);
			if (err && errno != ENOENT)
				die("bpf_map_lookup_batch", errno);
			got += count;
			if (err)
				break;
			in = out;
			in_batch = &in;
		}
		batch[r] = got / ((now_ns() - t0) / 1e9) / 1e6;
		faults = minor_faults() - f0;	/* the last run's: the buffers are warm by then */
		if (got != n)
			die("bpf_map_lookup_batch returned a wrong count", EIO);
	}
	emit_row("2-batch", batch, repeats, got, faults);
	/* libbpf_py's lookup_batch_arrays does what this loop does (the entries read into
	 * two contiguous arrays): its row compares with these same runs */
	emit_runs("2-arrays", batch, repeats, got);
	for (int r = 0; r < repeats; r++) {
		__u32 key, next, *prev = NULL;
		__u64 v, sum = 0;
		double t0 = now_ns();

		got = 0;
		while (bpf_map_get_next_key(fd, prev, &next) == 0) {
			if (bpf_map_lookup_elem(fd, &next, &v) == 0) {
				sum += v;
				got++;
			}
			key = next;
			prev = &key;
		}
		iter[r] = got / ((now_ns() - t0) / 1e9) / 1e6;
		if (got != n || sum == 0xffffffffffffffffULL)
			die("get_next_key walk returned a wrong count", EIO);
	}
	emit_runs("2-iter", iter, repeats, got);
	free(keys);
	free(vals);
	free(batch);
	free(iter);
	fault_cost(repeats);
}

/* Offset of the variable `name` in the data section `sec` (BTF of the object). */
static long var_offset(struct bpf_object *obj, const char *sec, const char *name)
{
	struct btf *btf = bpf_object__btf(obj);
	int id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	const struct btf_type *t;
	const struct btf_var_secinfo *vs;

	if (id < 0)
		die(sec, -id);
	t = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *var = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, var->name_off), name) == 0)
			return vs->offset;
	}
	die(name, ENOENT);
	return -1;
}

static struct bpf_map *bss_map(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t len = strlen(name);

		if (len >= 4 && strcmp(name + len - 4, ".bss") == 0)
			return map;
	}
	die(".bss map", ENOENT);
	return NULL;
}

/* 3: read the .bss counter: through the mmap'd section, and with a map lookup. */
static void group3(struct bpf_object *obj, long n, int repeats)
{
	struct bpf_map *bss = bss_map(obj);
	long off = var_offset(obj, ".bss", "counter");
	int fd = bpf_map__fd(bss);
	/* What a bpftool skeleton does: map the kernel's .bss (libbpf before 1.5 keeps
	 * bpf_map__initial_value() on its private copy after load). */
	size_t size = (bpf_map__value_size(bss) + getpagesize() - 1) & ~(getpagesize() - 1);
	char *mem = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	double *mm = calloc(repeats, sizeof(double)), *look = calloc(repeats, sizeof(double));
	char *buf = malloc(bpf_map__value_size(bss));
	__u32 zero = 0;
	volatile __u64 *counter;
	__u64 sum = 0;

	if (mem == MAP_FAILED)
		die("mmap(.bss)", errno);
	counter = (volatile __u64 *)(mem + off);
	test_run(prog_fd(obj, "bump"), 5);
	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();

		sum = 0;
		for (long i = 0; i < n; i++)
			sum += *counter;
		mm[r] = (now_ns() - t0) / n;
	}
	emit_runs("3-mmap", mm, repeats, sum / n);
	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();

		sum = 0;
		for (long i = 0; i < n; i++) {
			if (bpf_map_lookup_elem(fd, &zero, buf))
				die("bpf_map_lookup_elem(.bss)", errno);
			sum += *(__u64 *)(buf + off);
		}
		look[r] = (now_ns() - t0) / n;
	}
	emit_runs("3-lookup", look, repeats, sum / n);
	munmap(mem, size);
	free(mm);
	free(look);
	free(buf);
}

struct ring_ctx {
	long long count;
	__u64 seq_sum;
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct ring_ctx *c = ctx;

	c->count++;
	c->seq_sum += *(__u64 *)data;
	return 0;
}

/* 4: `emit` writes n 64-byte records (test_run, in rounds the ring can hold);
 * the timed part is ring_buffer__consume with a C callback. */
static void group4(struct bpf_object *obj, long n, int repeats)
{
	struct ring_ctx ctx = {0};
	struct ring_buffer *rb = ring_buffer__new(map_fd(obj, "events"), on_record, &ctx, NULL);
	int emit = prog_fd(obj, "emit");
	double *runs = calloc(repeats, sizeof(double));

	if (!rb)
		die("ring_buffer__new", errno);
	for (int r = 0; r < repeats; r++) {
		double spent = 0;

		ctx.count = 0;
		for (long done = 0; done < n;) {
			long round = n - done < RING_ROUND ? n - done : RING_ROUND;
			double t0;
			int got;

			test_run(emit, round);
			t0 = now_ns();
			got = ring_buffer__consume(rb);
			spent += now_ns() - t0;
			if (got < 0)
				die("ring_buffer__consume", got);
			done += round;
		}
		if (ctx.count != n)
			die("ring buffer: records lost", EIO);
		runs[r] = n / (spent / 1e9) / 1e6;
	}
	emit_runs("4-callback", runs, repeats, ctx.count);
	ring_buffer__free(rb);
	free(runs);
}

/* 7: a 24-byte struct value (ints, a char array, bitfields) in a hash map: one
 * update, then one lookup, at a time, keys cycling over SVAL_KEYS (the values are
 * made before the clock starts; a lookup reads one field); then lookups of the
 * per-CPU array's one value (ncpus __u64 slots), summed. */
static void group7(struct bpf_object *obj, long n, int repeats)
{
	int fd = map_fd(obj, "svals"), pfd = map_fd(obj, "pcpu");
	int ncpus = libbpf_num_possible_cpus();
	struct sval *vals = calloc(SVAL_KEYS, sizeof(*vals));
	__u64 *slots;
	double *upd = calloc(repeats, sizeof(double)), *look = calloc(repeats, sizeof(double));
	double *pc = calloc(repeats, sizeof(double));
	__u32 zero = 0;
	__u64 sum = 0;

	if (ncpus <= 0)
		die("libbpf_num_possible_cpus", ncpus);
	slots = calloc(ncpus, sizeof(*slots));
	for (__u32 i = 0; i < SVAL_KEYS; i++) {
		vals[i].id = i;
		vals[i].delta = -(int)i;
		vals[i].bytes = 3ULL * i;
		memcpy(vals[i].tag, "abc", 4);
		vals[i].kind = i & 15;
		vals[i].level = i & 4095;
	}
	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();

		for (long i = 0; i < n; i++) {
			__u32 k = i % SVAL_KEYS;

			if (bpf_map_update_elem(fd, &k, &vals[k], BPF_ANY))
				die("bpf_map_update_elem(svals)", errno);
		}
		double t1 = now_ns();

		sum = 0;
		for (long i = 0; i < n; i++) {
			__u32 k = i % SVAL_KEYS;
			struct sval v;

			if (bpf_map_lookup_elem(fd, &k, &v))
				die("bpf_map_lookup_elem(svals)", errno);
			sum += v.bytes;
		}
		double t2 = now_ns();

		upd[r] = (t1 - t0) / n;
		look[r] = (t2 - t1) / n;
	}
	emit_runs("7-update", upd, repeats, n);
	emit_runs("7-lookup", look, repeats, sum);
	for (int c = 0; c < ncpus; c++)
		slots[c] = c + 1;
	if (bpf_map_update_elem(pfd, &zero, slots, BPF_ANY))
		die("bpf_map_update_elem(pcpu)", errno);
	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();

		sum = 0;
		for (long i = 0; i < n; i++) {
			if (bpf_map_lookup_elem(pfd, &zero, slots))
				die("bpf_map_lookup_elem(pcpu)", errno);
			for (int c = 0; c < ncpus; c++)
				sum += slots[c];
		}
		pc[r] = (now_ns() - t0) / n;
	}
	emit_runs("7-percpu", pc, repeats, sum / n);
	free(vals);
	free(slots);
	free(upd);
	free(look);
	free(pc);
}

/* 5: open + load + close of the small object. */
static void group5(const char *small, int repeats)
{
	double *runs = calloc(repeats, sizeof(double));

	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();
		struct bpf_object *obj = open_load(small);

		bpf_object__close(obj);
		runs[r] = (now_ns() - t0) / 1e6;
	}
	emit_runs("5-load", runs, repeats, repeats);
	free(runs);
}

static void emit_point(const char *curve, const char *series, long x, const double *runs,
		       int n, long long check)
{
	printf("{\"curve\": \"%s\", \"series\": \"%s\", \"x\": %ld, \"runs\": [", curve, series, x);
	for (int i = 0; i < n; i++)
		printf("%s%.6f", i ? ", " : "", runs[i]);
	printf("], \"check\": %lld}\n", check);
	fflush(stdout);
}

/* scale-map: a hash map of exactly `n` entries (max_entries n, keys 0..n-1), read
 * whole with bpf_map_lookup_batch, `chunk` entries per call, `loops` times per
 * run; ns per entry read. */
static void scale_map(long n, long loops, int repeats, int chunk)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "scale", 4, 8, n, NULL);
	__u32 *keys = malloc((n + chunk) * sizeof(*keys));
	__u64 *vals = malloc((n + chunk) * sizeof(*vals));
	double *runs = calloc(repeats, sizeof(double));
	long got = 0;

	if (fd < 0)
		die("bpf_map_create", fd);
	for (long i = 0; i < n; i++) {
		keys[i] = i;
		vals[i] = i * 3;
	}
	__u32 count = n;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	if (bpf_map_update_batch(fd, keys, vals, &count, &opts))
		die("bpf_map_update_batch", errno);
	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();

		for (long l = 0; l < loops; l++) {
			__u64 in = 0, out = 0;
			void *in_batch = NULL;

			got = 0;
			for (;;) {
				int err;

				count = chunk;
				err = bpf_map_lookup_batch(fd, in_batch, &out, keys + got, vals + got,
							   &count, &opts);
				if (err && errno != ENOENT)
					die("bpf_map_lookup_batch", errno);
				got += count;
				if (err)
					break;
				in = out;
				in_batch = &in;
			}
		}
		runs[r] = (now_ns() - t0) / ((double)n * loops);
		if (got != n)
			die("bpf_map_lookup_batch returned a wrong count", EIO);
	}
	emit_point("map-batch", "bpf_map_lookup_batch", n, runs, repeats, got);
	close(fd);
	free(keys);
	free(vals);
	free(runs);
}

/* scale-ring: `rings` ring buffers (ring0, ring1...) in one ring_buffer, with a C
 * callback; emit_<size>_<ring> of the generated object writes `records` records of
 * `size` bytes, spread over the rings, in rounds that fit them; only the consuming
 * is timed. M records per second. */
static void scale_ring(const char *curve, const char *path, int size, int rings, long records,
		       int repeats, long ring_bytes)
{
	struct bpf_object *obj = open_load(path);
	struct ring_ctx ctx = {0};
	struct ring_buffer *rb = NULL;
	double *runs = calloc(repeats, sizeof(double));
	long rec = (size + 8 + 7) / 8 * 8;	/* the record and its 8-byte header */
	long cap = ring_bytes / rec * 9 / 10;	/* records per ring per round */
	int progs[64];
	char name[64];

	if (rings < 1 || rings > 64)
		die("rings: 1..64", EINVAL);
	for (int r = 0; r < rings; r++) {
		int fd;

		snprintf(name, sizeof(name), "ring%d", r);
		fd = map_fd(obj, name);
		if (!rb) {
			rb = ring_buffer__new(fd, on_record, &ctx, NULL);
			if (!rb)
				die("ring_buffer__new", errno);
		} else if (ring_buffer__add(rb, fd, on_record, &ctx)) {
			die("ring_buffer__add", errno);
		}
		snprintf(name, sizeof(name), "emit_%d_%d", size, r);
		progs[r] = prog_fd(obj, name);
	}
	for (int rep = 0; rep < repeats; rep++) {
		double spent = 0;

		ctx.count = 0;
		for (long done = 0; done < records;) {
			long round = records - done < cap * rings ? records - done : cap * rings;
			double t0;
			int got;

			for (int r = 0; r < rings; r++) {
				long share = round / rings + (r < round % rings ? 1 : 0);

				if (share)	/* repeat 0 would run once */
					test_run(progs[r], share);
			}
			t0 = now_ns();
			got = ring_buffer__consume(rb);
			spent += now_ns() - t0;
			if (got < 0)
				die("ring_buffer__consume", got);
			done += round;
		}
		if (ctx.count != records)
			die("ring buffer: records lost", EIO);
		runs[rep] = records / (spent / 1e9) / 1e6;
	}
	emit_point(curve, "ring_buffer__consume, C callback",
		   strcmp(curve, "ring-count") == 0 ? rings : size, runs, repeats, ctx.count);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	free(runs);
}

/* scale-load: open + load + close of a generated object with `maps` maps; ms. */
static void scale_load(const char *path, long maps, int repeats)
{
	double *runs = calloc(repeats, sizeof(double));
	long found = 0;

	for (int r = 0; r < repeats; r++) {
		double t0 = now_ns();
		struct bpf_object *obj = open_load(path);
		struct bpf_map *map;

		found = 0;
		bpf_object__for_each_map(map, obj)
			found++;
		bpf_object__close(obj);
		runs[r] = (now_ns() - t0) / 1e6;
	}
	emit_point("load", "bpf_object__open_file + load", maps, runs, repeats, found);
	free(runs);
}

static long arg(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v <= 0) {
		fprintf(stderr, "bench_c: %s is not a positive number\n", s);
		exit(2);
	}
	return v;
}

static int scale_main(int argc, char **argv)
{
	libbpf_set_print(quiet);
	if (strcmp(argv[1], "scale-map") == 0 && argc == 6)
		scale_map(arg(argv[2]), arg(argv[3]), arg(argv[4]), arg(argv[5]));
	else if (strcmp(argv[1], "scale-ring") == 0 && argc == 9)
		scale_ring(argv[2], argv[3], arg(argv[4]), arg(argv[5]), arg(argv[6]), arg(argv[7]),
			   arg(argv[8]));
	else if (strcmp(argv[1], "scale-load") == 0 && argc == 5)
		scale_load(argv[2], arg(argv[3]), arg(argv[4]));
	else {
		fprintf(stderr, "bench_c: usage: scale-map ENTRIES LOOPS REPEATS CHUNK | scale-ring "
			"CURVE OBJ SIZE RINGS RECORDS REPEATS RING_BYTES | scale-load OBJ MAPS "
			"REPEATS\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	long n;
	int repeats;

	if (argc >= 2 && strncmp(argv[1], "scale-", 6) == 0)
		return scale_main(argc, argv);

	if (argc != 6) {
		fprintf(stderr, "usage: %s GROUP BENCH_OBJ SMALL_OBJ N REPEATS\n", argv[0]);
		return 2;
	}
	libbpf_set_print(quiet);
	n = atol(argv[4]);
	repeats = atoi(argv[5]);
	if (n <= 0 || repeats <= 0) {
		fprintf(stderr, "bench_c: N and REPEATS must be positive\n");
		return 2;
	}
	if (strcmp(argv[1], "5") == 0) {
		group5(argv[3], repeats);
		return 0;
	}
	obj = open_load(argv[2]);
	if (strcmp(argv[1], "1") == 0)
		group1(obj, n, repeats);
	else if (strcmp(argv[1], "2") == 0)
		group2(obj, n, repeats);
	else if (strcmp(argv[1], "3") == 0)
		group3(obj, n, repeats);
	else if (strcmp(argv[1], "4") == 0)
		group4(obj, n, repeats);
	else if (strcmp(argv[1], "7") == 0)
		group7(obj, n, repeats);
	else {
		fprintf(stderr, "bench_c: unknown group %s\n", argv[1]);
		return 2;
	}
	bpf_object__close(obj);
	return 0;
}
