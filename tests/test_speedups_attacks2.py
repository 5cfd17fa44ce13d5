"""libbpf_py._speedups against Python code that tries to break it (second review).

As tests/test_speedups_attacks.py: each test drives one entry point of
libbpf_py/_speedups.c with callbacks that run Python where C holds a pointer it
read earlier. The crashers run in a subprocess, so that the suite survives the
old code's segfault and reports it as a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import Any, Callable, List

import pytest
from conftest import gc_ran_in_the_allocation

from libbpf_py._buffers import dup_map_fd
from libbpf_py.enums import MapType
from libbpf_py.map import Map


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)],
                          capture_output=True, text=True, timeout=120)


def test_a_sink_whose_mode_runs_python_is_held_while_parsed() -> None:
    """deliver() parses a sink (callback, mode, decode) borrowed from the sinks list;
    the mode's __index__ is Python, which can replace that sink in the list and so
    drop the tuple's last reference: the tuple must be held while it is parsed, not
    read after it was freed (the old code segfaulted)."""
    r = _run("""
        from array import array
        from libbpf_py import _speedups
        got = []
        sinks = []

        class Mode:
            def __index__(self):
                sinks[0] = (got.append, 1, None)  # the tuple being parsed goes
                return 1

        for _ in range(20):
            sinks[:] = [(lambda b: got.append(("first", b)), Mode(), None)]
            pos = [0, False]
            assert _speedups.deliver(sinks, b"ab", array("I", [0, 1, 2]).tobytes(),
                                     None, 0, 2, pos) == 2
        assert got == [("first", b"a"), b"b"] * 20, got
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")


@pytest.mark.kernel
def test_a_per_cpu_read_reentered_from_a_collection_keeps_the_held_list(
        kernel: None) -> None:
    """m[k] of a per-CPU map makes a new list when the last one is held; that
    allocation can start a collection whose callback (or a __del__ it runs) reads
    the same map, which makes its own list the spare and drops the old spare's
    reference. The outer read must not then drop that reference a second time:
    the list the caller holds stays alive and unchanged (the old code freed it
    under its holder, then crashed)."""
    r = _run("""
        import gc, sys
        import libbpf_py as bpf
        from libbpf_py.enums import MapType
        m = bpf.Map.create(MapType.PERCPU_ARRAY, 4, 8, 1)
        m[0] = 7
        ncpus = len(m[0])
        assert m._fast_path
        for round in range(10):
            m[0] = round
            held = m[0]  # the spare, and held: the next read makes a new list
            calls = []

            def reenter(phase, info):
                if phase == "start" and not calls:
                    calls.append(1)
                    inner = m[0]  # replaces the spare
                    assert inner == [round] * ncpus
                    del inner

            threshold = gc.get_threshold()
            gc.collect()
            allocations = [[] for _ in range(20)]
            gc.callbacks.append(reenter)
            gc.set_threshold(1)  # the list's allocation starts a collection
            try:
                got = m[0]
            finally:
                gc.set_threshold(*threshold)
                gc.callbacks.remove(reenter)
            del allocations
            if not calls and sys.version_info >= (3, 12):
                print("no-collection")  # 3.12 on: never inside the allocation
                break
            assert calls
            assert sys.getrefcount(held) == 2, sys.getrefcount(held)
            junk = [[object()] for _ in range(1000)]
            assert held == [round] * ncpus and got == [round] * ncpus
            del junk, got, held
            assert m[0] == [round] * ncpus
        m.close()
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.split()[-1:] == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")
    if r.stdout.split()[0] == "no-collection":
        gc_ran_in_the_allocation(False)


@pytest.mark.kernel
def test_a_buffer_never_duplicates_the_fd_of_a_map_opened_after_a_close(
        maps: Callable[..., Map]) -> None:
    """RingBuffer (and the other buffers) duplicate their map's fd: a close of the
    map from another thread between reading ``m.fd`` and ``os.dup`` (simulated here
    by a profile hook, which runs Python exactly there) must not let the buffer
    duplicate whatever map took that fd number next: the fd stays the map's until
    the duplicate is made."""
    m = maps(MapType.RINGBUF, 0, 0, 4096)
    want, number = m.id, m.fd
    other: List[Map] = []

    def hook(frame: Any, event: str, arg: Any) -> None:
        if (event == "return" and not other and frame.f_back is not None
                and frame.f_back.f_code is dup_map_fd.__code__
                and getattr(frame.f_locals.get("method"), "__name__", "") == "fd"):
            sys.setprofile(None)
            m.close()  # "another thread" closes the map here...
            other.append(maps(MapType.RINGBUF, 0, 0, 4096))  # ...and opens another

    sys.setprofile(hook)
    try:
        dup = dup_map_fd(m, MapType.RINGBUF, "RingBuffer")
    finally:
        sys.setprofile(None)
    assert other, "the hook did not run"
    try:
        got = Map.from_fd(dup)
        try:
            assert got.id == want, (
                f"duplicated fd {number} of another map (the new one took the number: "
                f"{other[0].fd == number})")
        finally:
            got.close()
    finally:
        os.close(dup)


@pytest.mark.kernel
def test_an_int_subclass_is_written_as_its_own_value_on_every_path(
        maps: Callable[..., Map]) -> None:
    """An int subclass (not MapBase's exact-int C path) is written as the int it is,
    as cffi's encode takes it for a plain map, never as what its __int__ says: a
    per-CPU map (whose codec packs the bytes with to_bytes) and update_batch of a
    list that needs the checked packer stored __int__'s 6 for 3."""

    class Odd(int):
        def __int__(self) -> int:
            return 6

        def __index__(self) -> int:
            return 6

    plain = maps(MapType.HASH, 4, 8, 4)
    plain[0] = Odd(3)
    assert plain[0] == 3
    per_cpu = maps(MapType.PERCPU_ARRAY, 4, 8, 1)
    ncpus = len(per_cpu[0])
    per_cpu[0] = Odd(3)
    assert per_cpu[0] == [3] * ncpus
    per_cpu[0] = [Odd(4)] * ncpus
    assert per_cpu[0] == [4] * ncpus
    plain.update_batch([(Odd(1), Odd(5))])
    assert plain[1] == 5


@pytest.mark.kernel
@pytest.mark.parametrize("how", ["setitem", "update", "update_batch"])
def test_a_map_of_maps_never_takes_the_map_opened_after_a_close(
        maps: Callable[..., Map], how: str) -> None:
    """``outer[k] = inner`` reads ``inner.fd`` and then calls the kernel with that
    number: a close of ``inner`` from another thread in between (simulated by a
    profile hook on the return of the ``fd`` property, inside _fd_of) must not let
    a map opened meanwhile take the number and be written into ``outer`` in its
    place. The inner map's guard is held until the update returns."""
    from libbpf_py import _map_core

    template = maps(MapType.ARRAY, 4, 8, 2)
    outer = maps(MapType.HASH_OF_MAPS, 4, 4, 4, inner_map=template)
    inner = maps(MapType.ARRAY, 4, 8, 2)
    want = inner.id
    other: List[Map] = []

    def hook(frame: Any, event: str, arg: Any) -> None:
        if (event == "return" and not other and frame.f_back is not None
                and frame.f_back.f_code is _map_core._fd_of.__code__
                and getattr(frame.f_locals.get("method"), "__name__", "") == "fd"):
            sys.setprofile(None)
            inner.close()  # "another thread" closes the inner map here...
            other.append(maps(MapType.ARRAY, 4, 8, 2))  # ...and opens a compatible one

    sys.setprofile(hook)
    try:
        if how == "setitem":
            outer[7] = inner
        elif how == "update":
            outer.update(7, inner)
        else:
            outer.update_batch([(7, inner)])
    finally:
        sys.setprofile(None)
    assert other, "the hook did not run"
    assert outer[7] == want, (
        f"the map of maps holds map {outer[7]}, not the inner map {want} it was given "
        f"(the new map {other[0].id} took its fd number)")


@pytest.mark.kernel
def test_a_record_whose_buffer_swaps_the_state_is_written_by_the_state_held(
        kernel: None) -> None:
    """``m[k] = record`` asks the record for its buffer, which from Python 3.12 runs
    the class's own __buffer__: that may give the map another state (here a per-CPU
    map's, whose value the kernel reads as 8 bytes per possible CPU). The write goes
    to the fd of the state it started with, sized by that state, which it holds:
    the old code re-read the fd and size after the buffer call and wrote the 8-byte
    record into the per-CPU map, the kernel reading past its end (a heap pointer
    landed in CPU 1's value) while the record map stayed unwritten."""
    r = _run("""
        import ctypes
        import libbpf_py as bpf
        from libbpf_py._binding import MapBase
        from libbpf_py.enums import MapType

        records = bpf.Map.create(MapType.ARRAY, 4, 8, 1)
        per_cpu = bpf.Map.create(MapType.PERCPU_ARRAY, 4, 8, 1)
        ncpus = len(per_cpu[0])
        probe = MapBase()

        class State:
            def __init__(self, fast):
                self.fast = fast

        per_cpu_state = State((per_cpu._check_loaded().fd, 4, False, 8, False, 2, ncpus))

        class Rec(ctypes.Structure):
            _fields_ = [("x", ctypes.c_uint64)]

            def __buffer__(self, flags):
                probe._elements = per_cpu_state  # another state, mid-write
                return memoryview(bytearray(b"\\x11" * 8))

        for round in range(5):
            state = State((records._check_loaded().fd, 4, False, 8, False, 1, Rec))
            probe._elements = state
            assert probe._fast_path
            probe[0] = Rec()
            if probe._elements is state:  # before 3.12: ctypes' own buffer, no hook ran
                assert records[0] == 0 and per_cpu[0] == [0] * ncpus
                print("no-hook")
                break
            assert probe._elements is per_cpu_state
            assert per_cpu[0] == [0] * ncpus, per_cpu[0]
            assert records[0] == 0x1111111111111111, hex(records[0])
            records[0] = 0
        probe._elements = None
        print("ok")
    """)
    want = ["ok"] if sys.version_info >= (3, 12) else ["no-hook", "ok"]
    assert r.returncode == 0 and r.stdout.split() == want, (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")
    if sys.version_info < (3, 12):
        pytest.xfail("a Python class defines __buffer__ from Python 3.12 on: here the "
                     "write took ctypes' own buffer of the record and no Python ran in it")


# (map type, key size, value size, the `fast` tuple's key size, value size, kind,
# extra): a state made by hand that does not match its map. "cpus" stands for the
# machine's number of possible CPUs, "record" for an 8-byte ctypes record class.
_MISMATCHED_STATES = {
    # the kernel writes 4096 bytes per CPU into 8 per CPU: on the stack...
    "per-cpu-value-size-stack": ("PERCPU_ARRAY", 4, 4096, 4, 8, 2, "1"),
    # ...and past a heap buffer of 65 * 8 bytes
    "per-cpu-value-size-heap": ("PERCPU_ARRAY", 4, 4096, 4, 8, 2, "65"),
    "per-cpu-fewer-cpus": ("PERCPU_ARRAY", 4, 8, 4, 8, 2, "cpus - 1 or cpus + 1"),
    "per-cpu-more-cpus": ("PERCPU_ARRAY", 4, 8, 4, 8, 2, "cpus + 1"),
    "int-value-size": ("ARRAY", 4, 4096, 4, 8, 0, None),
    "int-of-a-per-cpu-map": ("PERCPU_ARRAY", 4, 8, 4, 8, 0, None),
    "record-of-a-per-cpu-map": ("PERCPU_HASH", 4, 8, 4, 8, 1, "record"),
    "key-size": ("HASH", 64, 8, 4, 8, 0, None),
}


@pytest.mark.kernel
@pytest.mark.parametrize("case", sorted(_MISMATCHED_STATES))
def test_a_state_that_does_not_match_its_map_is_refused(kernel: None, case: str) -> None:
    """The C path sizes its key and value buffers by the state's ``fast`` tuple
    (key size, value size, number of possible CPUs) while the kernel copies the
    map's own sizes: a tuple made by hand that claims less than the map holds let
    the kernel write past the buffer (a per-CPU map of 4096-byte values read as 8
    bytes per CPU: SIGSEGV on the stack, "double free or corruption" on the heap)
    or read past it. Setting such a state raises ValueError, before any access."""
    map_type, ks, vs, fks, fvs, kind, extra = _MISMATCHED_STATES[case]
    r = _run(f"""
        import ctypes
        import libbpf_py as bpf
        from libbpf_py._binding import MapBase
        from libbpf_py.enums import MapType
        from libbpf_py.map import possible_cpus

        class record(ctypes.Structure):
            _fields_ = [("x", ctypes.c_uint64)]

        cpus = possible_cpus()
        m = bpf.Map.create(MapType.{map_type}, {ks}, {vs}, 1)
        fast = (m._check_loaded().fd, {fks}, False, {fvs}, False, {kind})
        if {extra!r} is not None:
            fast += (eval({extra!r}),)

        class State:
            pass

        state = State()
        state.fast = fast
        probe = MapBase()
        try:
            probe._elements = state
        except ValueError as exc:
            assert "does not match the map" in str(exc), exc
            assert not probe._fast_path and probe._elements is None
            print("refused")
        else:
            print("accepted", flush=True)
            try:
                probe[0]
                probe[0] = probe[0]
            except Exception:
                pass
            print("read", flush=True)
    """)
    assert r.returncode == 0 and r.stdout.split() == ["refused"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")


@pytest.mark.kernel
def test_a_state_whose_fd_is_closed_later_never_reaches_the_next_map(
        kernel: None) -> None:
    """A state made by hand may name an fd it does not own (here a Map's element
    fd): when that Map is closed, the next map created takes the number. The C path
    acts on its own duplicate of the fd, made when the state was set, so it keeps
    reading and writing the map it was given; the old code used the number itself
    and had the kernel write the new map's 4096-byte value into an 8-byte int
    (SIGSEGV)."""
    r = _run("""
        import libbpf_py as bpf
        from libbpf_py._binding import MapBase
        from libbpf_py.enums import MapType

        m = bpf.Map.create(MapType.ARRAY, 4, 8, 1)
        number = m._check_loaded().fd

        class State:
            fast = (number, 4, False, 8, False)

        probe = MapBase()
        probe._elements = State()
        assert probe._fast_fd == number
        probe[0] = 5
        m.close()
        big = bpf.Map.create(MapType.ARRAY, 4, 4096, 1)
        assert number in (big.fd, big._check_loaded().fd), "the number was not reused"
        assert probe[0] == 5
        probe[0] = 6
        assert probe[0] == 6
        assert big[0] == bytes(4096) or big[0] == 0, big[0]
        probe._elements = None
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.split() == ["ok"], (
        f"exit {r.returncode}\n{r.stdout}\n{r.stderr[-3000:]}")


@pytest.mark.kernel
def test_a_per_cpu_count_that_only_fits_when_truncated_is_refused(
        maps: Callable[..., Map]) -> None:
    """The number of possible CPUs in a per-CPU state's ``fast`` tuple is read as
    a C long and range-checked before it becomes an int: 2**32 + ncpus is refused,
    not taken as ncpus (the old code cast it to int first, so it passed)."""
    from libbpf_py._binding import MapBase
    from libbpf_py.map import possible_cpus

    m = maps(MapType.PERCPU_ARRAY, 4, 8, 1)
    fd, ncpus = m._check_loaded().fd, possible_cpus()
    probe = MapBase()

    class State:
        def __init__(self, extra: int) -> None:
            self.fast = (fd, 4, False, 8, False, 2, extra)

    for extra in (2 ** 32 + ncpus, 2 ** 33 + ncpus, -(2 ** 32) + ncpus, 2 ** 64 + ncpus):
        with pytest.raises(ValueError, match=r"_elements\.fast: bad per-CPU value"):
            probe._elements = State(extra)
        assert not probe._fast_path
    probe._elements = State(ncpus)
    assert probe._fast_path
    m[0] = 3
    assert probe[0] == [3] * ncpus
    probe._elements = None
