#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for libbpf_py: the Debian packages it builds
# and tests with, a virtualenv (.venv) with the Python tools, and the bpffs /
# tracefs mounts BPF programs need. Idempotent: a second run installs nothing.
# Never touches the system's apt sources; vendor/provision.py uses a private list.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'bootstrap: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
    command -v sudo >/dev/null || { say "run as root (or install sudo): apt-get and mount need it"; exit 1; }
else
    SUDO=
fi

# Debian packages: libbpf's headers, libelf/zlib for static links, clang and
# bpftool for the BPF programs, readelf (binutils) for the link audit, sys/sdt.h
# (systemtap-sdt-dev) for the USDT test target, BCC (bpfcc-tools, python3-bpfcc)
# for the benchmark's comparison (bench/); QEMU, depmod (kmod) and a static busybox
# (virtme-ng's initramfs) for the kernel matrix (scripts/kernels.sh).
PKGS="libbpf-dev libelf-dev zlib1g-dev pkg-config clang llvm bpftool make gcc binutils dpkg-dev iproute2 systemtap-sdt-dev bpfcc-tools python3-bpfcc qemu-system-x86 kmod busybox-static"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing Debian packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    say "Debian packages present"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($PY --version)"
    $PY -m venv .venv
fi
say "installing Python tools into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip setuptools wheel \
    cffi pkgconfig pyelftools pytest tox ruff mypy

# BPF programs need tracefs for tracepoints and bpffs for pinning.
mounted() { awk -v p="$1" -v t="$2" '$2==p && $3==t {f=1} END {exit !f}' /proc/self/mounts; }
mounted /sys/kernel/tracing tracefs || $SUDO mount -t tracefs tracefs /sys/kernel/tracing
mounted /sys/fs/bpf bpf || $SUDO mount -t bpf bpf /sys/fs/bpf
say "ready"
