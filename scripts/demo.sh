#!/usr/bin/env bash
# The main job: set everything up, build and install libbpf_py (dynamic link
# against the system libbpf), and run a real BPF program live: syscall counts
# per process, refreshed every second. Extra arguments go to the example,
# e.g. scripts/demo.sh --seconds 10.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/python -m pip install -q --disable-pip-version-check --no-build-isolation .
cd examples
exec ../.venv/bin/python syscount.py "$@"
