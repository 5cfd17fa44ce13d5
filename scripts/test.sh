#!/usr/bin/env bash
# The test command: set everything up, provision the libbpf prefixes of the
# version matrix, and run the tox matrix (lint, docs, dynamic, static, dynamic-1.4,
# dynamic-1.5, dynamic-1.7, wheel, asan), then build the Debian package and run its
# autopkgtest, then the kernel matrix (the kernel-dependent tests inside Debian's 6.1
# and 6.12 kernels under QEMU, scripts/kernels.sh). Extra arguments go to tox and run
# only tox, e.g. scripts/test.sh -e static.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/python vendor/provision.py all
.venv/bin/tox "$@"
# The Debian package, built and tested as installed (skip with LIBBPF_PY_NO_DEB=1).
if [ "${LIBBPF_PY_NO_DEB:-}" != 1 ]; then
    scripts/deb.sh --autopkgtest
fi

# The kernel matrix, with the libbpf 1.5 build tox just made (dynamic-1.5): the
# newest libbpf of the matrix knows every attach kind (tcx, netkit, uprobe_multi,
# kprobe sessions, sockmap links), so each is tried on each kernel. Kernels, udev
# and virtme-ng are cached in ~/.cache/libbpf_py/kernels after the first run.
# Skip with LIBBPF_PY_NO_KERNELS=1. It needs root (QEMU, a private mount namespace).
if [ $# -eq 0 ] && [ "${LIBBPF_PY_NO_KERNELS:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "test.sh: the kernel matrix needs root: not run (LIBBPF_PY_NO_KERNELS=1 skips it without this warning)" >&2
        [ "${LIBBPF_PY_REQUIRE_KERNEL:-}" != 1 ] || exit 1
    else
        scripts/kernels.sh --kernel all --quiet --python .tox/dynamic-1.5/bin/python
    fi
fi
