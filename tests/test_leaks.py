"""Nothing leaks: file descriptors and memory stay flat over many cycles.

Each test warms up (first-use caches, pymalloc arenas, libbpf's feature probes
and the kernel's lazily freed objects settle), then counts this process's open
fds (/proc/self/fd) and its resident memory (/proc/self/statm) before and after
N cycles, after a gc.collect() each time.

Thresholds, from what a leak would cost:

- fds: no growth at all. A leaked fd per cycle is N fds; a flat count is exact.
- RSS: at most RSS_SLACK_MB (2 MB). Over the 10,000 open/load/close cycles that
  is 200 bytes a cycle, while a leaked bpf_object costs about 4 KB opened and
  12 KB loaded (measured: 1,000 of them add 4 and 12 MB), so one a cycle would
  add 40 MB or more. Over the 100,000 operations of each kind on a map it is 20
  bytes an operation, below the smallest leaked object (a 28-byte int, a
  33-byte bytes; keeping one int a read adds 3.6 MB). The slack absorbs
  allocator noise: glibc and pymalloc do not return every freed page, and the
  measured runs move by less than 0.1 MB.

Attaching a tracepoint costs time, not memory: each detach waits for an RCU
grace period in the kernel (about 70 ms a cycle on the test machines, so 10,000
cycles would take 12 minutes). So the 10,000 full open/load/attach/destroy/close
cycles attach a cgroup_skb program to a fresh cgroup holding this process
(tests/bpf/leak_cycle.bpf.c: a link whose detach does not wait; every 100th
cycle a UDP packet runs the program),
and the tracepoint cycle (a perf event and its link) runs ATTACH_CYCLES (300)
times, where a leaked link or perf event shows as fds, exactly, and a leaked
object as 3.6 MB.

RSS means nothing under AddressSanitizer (quarantine, shadow memory), so these
tests are deselected in the asan env: build(sanitized=False).
"""

from __future__ import annotations

import gc
import os
import resource
import socket
import struct
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from conftest import Compile

import libbpf_py as bpf
from libbpf_py import BpfObject, Map, MapType

pytestmark = [pytest.mark.kernel, pytest.mark.build(sanitized=False)]

RSS_SLACK_MB = 2.0
OBJECT_CYCLES = 10_000
ATTACH_CYCLES = 300
MAP_OPS = 100_000
RING_CYCLES = 10_000
_PAGE = resource.getpagesize()


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


def assert_flat(label: str, cycles: int, step: Callable[[], None], warmup: int) -> None:
    """Run ``step`` ``warmup`` times, then ``cycles`` times between two measurements."""
    for _ in range(warmup):
        step()
    gc.collect()
    fds0, rss0 = fd_count(), rss_mb()
    for _ in range(cycles):
        step()
    gc.collect()
    fds1, rss1 = fd_count(), rss_mb()
    message = (f"{label}: fds {fds0} -> {fds1}, RSS {rss0:.1f} -> {rss1:.1f} MB "
               f"over {cycles} cycles (allowed: no fd, {RSS_SLACK_MB} MB)")
    print(message)
    assert fds1 <= fds0 and rss1 - rss0 <= RSS_SLACK_MB, message


@pytest.fixture
def minimal_o(kernel: None, compile_bpf: Compile) -> Path:
    return compile_bpf("minimal")


def object_cycle(path: Path, attach: bool) -> Callable[[], None]:
    """tests/bpf/minimal.bpf.c: one tracepoint program, a hash map, .rodata and .bss."""
    target_pid = os.getpid().to_bytes(4, sys.byteorder)  # .rodata: const volatile int

    def cycle() -> None:
        obj = BpfObject.open(path)
        try:
            obj.maps["minimal.rodata"].initial_value = target_pid
            obj.load()
            if attach:
                link = obj.programs.handle_getpid.attach()
                os.getpid()  # the program runs, so its map holds an element
                link.destroy()
        finally:
            obj.close()

    return cycle


def test_open_load_close(minimal_o: Path) -> None:
    assert_flat("open/load/close", OBJECT_CYCLES, object_cycle(minimal_o, attach=False),
                warmup=200)


def test_open_load_attach_destroy_close(minimal_o: Path) -> None:
    assert_flat("open/load/attach/destroy/close", ATTACH_CYCLES,
                object_cycle(minimal_o, attach=True), warmup=20)


def test_open_load_attach_cgroup_destroy_close_10k(cgroup2: Path,
                                                   compile_bpf: Compile) -> None:
    path = compile_bpf("leak_cycle")
    (cgroup2 / "cgroup.procs").write_text(str(os.getpid()))  # moved back out by the fixture
    n = [0]

    def cycle() -> None:
        with BpfObject.open(path) as obj:
            obj.load()
            link = obj.programs.count_egress.attach_cgroup(cgroup2)
            try:
                n[0] += 1
                if n[0] % 100 == 0:  # the program really runs on this process's packets
                    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                        s.sendto(b"x", ("127.0.0.1", 9))
                    assert obj.maps.seen[0] >= 1
            finally:
                link.destroy()

    assert_flat("open/load/attach_cgroup/destroy/close", OBJECT_CYCLES, cycle, warmup=200)


def test_int_element_ops(maps: Callable[..., Map]) -> None:
    """The int path (C fast path): m[k] = v, m[k], del m[k], each cycle 100 ops of each."""
    m = maps(MapType.HASH, 4, 8, 128)
    keys = range(100)

    def cycle() -> None:
        for k in keys:
            m[k] = k * 3
        for k in keys:
            assert m[k] == k * 3
        for k in keys:
            del m[k]

    assert_flat("int m[k] = v / m[k] / del m[k]", MAP_OPS // 100, cycle, warmup=100)


@pytest.fixture
def typed_events(kernel: None, compile_bpf: Compile) -> Iterator[Map]:
    """tests/bpf/maps.bpf.c's ``events``: a hash of struct event, typed by its BTF."""
    with BpfObject.open(compile_bpf("maps")) as obj:
        obj.load()
        yield obj.maps.events


def test_btf_struct_element_ops(typed_events: Map) -> None:
    """The BTF path: a struct value from a dict, read back decoded, deleted."""
    events = typed_events
    keys = range(16)

    def cycle() -> None:
        for k in keys:
            events[k] = {"pid": k, "delta": -k, "comm": b"leak", "pair": {"a": k, "b": 1},
                         "arr": [k, -k]}
        for k in keys:
            value: Any = events[k]
            assert value.pid == k and value.comm == b"leak"
        for k in keys:
            del events[k]

    assert_flat("BTF struct m[k] = {...} / m[k] / del m[k]", MAP_OPS // 16, cycle, warmup=50)


@pytest.fixture
def events_env(kernel: None, compile_bpf: Compile) -> Iterator[BpfObject]:
    """tests/bpf/events.bpf.c loaded and attached (its getpid tracepoint)."""
    with BpfObject.open(compile_bpf("events")) as obj:
        obj.load()
        with obj.programs.on_getpid.attach():
            yield obj


def test_ring_buffer_poll(events_env: BpfObject) -> None:
    """One getpid() emits 4 records into ring_a; poll delivers them to the callback."""
    maps = events_env.maps
    pid = os.getpid()
    seen = [0]

    def on_record(data: Any) -> None:
        seen[0] += len(data)

    with bpf.RingBuffer(maps.ring_a, on_record) as rb:
        def cycle() -> None:
            maps.ev_config[0] = struct.pack("IIII", pid, 4, 1, 0)  # 4 records, ring_a
            os.getpid()
            maps.ev_config[0] = struct.pack("IIII", pid, 0, 0, 0)
            assert rb.poll(1000) == 4

        assert_flat("ring buffer poll", RING_CYCLES, cycle, warmup=200)
    assert seen[0] > 0
