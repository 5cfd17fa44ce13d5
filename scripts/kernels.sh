#!/usr/bin/env bash
# The kernel matrix: the test suite inside Debian's 6.1 and 6.12 kernels, booted
# with QEMU and virtme-ng. Usage: scripts/kernels.sh [--kernel 6.1|6.12|all] [pytest args]
# (scripts/kernels.py --help for the other options). Needs root and what
# scripts/bootstrap.sh installs; downloads are cached in ~/.cache/libbpf_py/kernels, results go to .kernels/results.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 scripts/kernels.py "$@"
