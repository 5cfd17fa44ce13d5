#!/usr/bin/env bash
# The test command: set everything up, provision the libbpf prefixes of the
# version matrix, and run the tox matrix (lint, docs, dynamic, static, dynamic-1.4,
# dynamic-1.5, wheel, asan), then build the Debian package and run its autopkgtest.
# Extra arguments go to tox, e.g. scripts/test.sh -e static.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/python vendor/provision.py all
.venv/bin/tox "$@"
# The Debian package, built and tested as installed (skip with LIBBPF_PY_NO_DEB=1).
if [ "${LIBBPF_PY_NO_DEB:-}" != 1 ]; then
    scripts/deb.sh --autopkgtest
fi
