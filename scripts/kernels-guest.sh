#!/bin/bash
# Runs inside a guest kernel booted by scripts/kernels.py (virtme-ng): the host's
# root is shared read-only, RESULTS is shared back read-write.
# Usage: kernels-guest.sh RESULTS PYTHON VMLINUX_H KCONFIG [pytest args...]
set -u
RESULTS=$1 PYTHON=$2 VMLINUX_H=$3 KCONFIG=$4
shift 4

mounted() { awk -v p="$1" -v t="$2" '$2==p && $3==t {f=1} END {exit !f}' /proc/self/mounts; }
mounted /sys/fs/bpf bpf || mount -t bpf bpf /sys/fs/bpf
mounted /sys/kernel/tracing tracefs || mount -t tracefs tracefs /sys/kernel/tracing
mounted /sys/kernel/debug debugfs || mount -t debugfs debugfs /sys/kernel/debug
mounted /sys/kernel/security securityfs || mount -t securityfs securityfs /sys/kernel/security
grep -q ' cgroup2 ' /proc/self/mounts || mount -t cgroup2 cgroup2 /sys/fs/cgroup

uname -r > "$RESULTS/uname"
cat /sys/kernel/security/lockdown > "$RESULTS/lockdown" 2>/dev/null || true

# The objects were compiled on the host against its vmlinux.h (CO-RE); the repo is
# read-only here, so nothing may be written into it.
export LIBBPF_PY_REQUIRE_KERNEL=1
export LIBBPF_PY_VMLINUX_H="$VMLINUX_H"
export LIBBPF_PY_KERNEL_RESULTS="$RESULTS/kinds.jsonl"
export LIBBPF_PY_KERNEL_CONFIG="$KCONFIG"   # Debian's kernels have no /proc/config.gz
export PYTHONDONTWRITEBYTECODE=1
# Run from the results folder, as tox runs from its own: a child process of a test
# (python -c, python -m libbpf_py) must import the build under test, never the
# checkout's libbpf_py from the working directory. Paths into the repo become absolute.
REPO=$(cd "$(dirname "$0")/.." && pwd)
# (a --deselect value stays a node id, which is relative to --rootdir)
args=() prev=
for a in "$@"; do
    if [ "$prev" != --deselect ] && [ -e "$REPO/${a%%::*}" ]; then args+=("$REPO/$a")
    else args+=("$a"); fi
    prev=$a
done
cd "$RESULTS" || exit 2
"$PYTHON" -P -m pytest -p no:cacheprovider --rootdir="$REPO" --junitxml="$RESULTS/junit.xml" "${args[@]}"
status=$?
echo "$status" > "$RESULTS/pytest-status"

# For comparing libbpf_py's probe with bpftool's in the same kernel.
bpftool feature probe kernel --json > "$RESULTS/bpftool-features.json" 2>/dev/null || true
"$PYTHON" -m libbpf_py probe --json > "$RESULTS/libbpf_py-probe.json" 2>/dev/null || true
exit "$status"
