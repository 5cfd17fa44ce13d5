/* A tiny shared object for the link audit tests (tests/test_linkcheck.py).
 *
 * It calls a few libbpf functions from one exported function, so that each way of linking
 * libbpf (shared library, hidden static archive, the bpftool LIBBPF_DYNAMIC pitfall, an
 * exporting static archive) leaves its own trace in the ELF file.
 */
#include <errno.h>
#include <stddef.h>

#include <bpf/libbpf.h>

__attribute__((visibility("default"))) int audit_probe(const char *path, char *buf, size_t size)
{
	struct bpf_object *obj;
	int err;

	if (libbpf_major_version() < 1)
		return -EINVAL;
	obj = bpf_object__open_file(path, NULL);
	err = libbpf_get_error(obj);
	if (!err)
		bpf_object__close(obj);
	if (buf && size)
		libbpf_strerror(err, buf, size);
	return err;
}
