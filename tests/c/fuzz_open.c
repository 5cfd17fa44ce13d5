// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What C libbpf does with one BPF ELF image: bpf_object__open_mem + bpf_object__load.
 *
 * tests/test_fuzz.py builds this against the libbpf the extension links and feeds
 * it the same mutants as the Python child, one path per line on stdin. For each it
 * answers one line, "<open errno> <load errno> <open_file errno>" (0: success, "-"
 * not tried; the last is bpf_object__open_file of the same bytes), after
 * the work is done: a crash leaves the current path unanswered, which is how the
 * test attributes it. argv[1] is the pin_root_path both sides use.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level; (void)fmt; (void)args;
	return 0;
}

static char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		*size = (size_t)n;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	char line[4096];

	if (argc > 1)
		opts.pin_root_path = argv[1];
	libbpf_set_print(quiet);
	while (fgets(line, sizeof(line), stdin)) {
		struct bpf_object *obj;
		size_t size = 0;
		char *buf;
		int err;

		line[strcspn(line, "\n")] = '\0';
		buf = slurp(line, &size);
		if (!buf) {
			printf("read-error - -\n");
			fflush(stdout);
			continue;
		}
		errno = 0;
		obj = bpf_object__open_mem(buf, size, &opts);
		if (!obj) {
			printf("%d - ", errno ? errno : EINVAL);
		} else {
			err = bpf_object__load(obj);
			printf("0 %d ", err < 0 ? -err : 0);
			bpf_object__close(obj);
		}
		free(buf);
		errno = 0;
		obj = bpf_object__open_file(line, &opts);
		printf("%d\n", obj ? 0 : errno ? errno : EINVAL);
		bpf_object__close(obj);
		fflush(stdout);
	}
	return 0;
}
