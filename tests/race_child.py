"""The child of tests/test_race.py: threads racing on shared libbpf_py objects.

Run as ``python race_child.py SEED ROUNDS SECONDS MAPS_O EVENTS_O SKEL_O PIN_DIR``.
Each round builds a world of shared objects (a loaded BpfObject with maps of several
kinds, a runtime Skeleton, ring/perf/user ring buffers, a Btf, standalone maps,
FdProgram/FdLink from ids, a pinned map reopened from its pin), then WORKERS threads
call random public methods on them for SECONDS while a closer thread now and then
closes one, and a producer calls getpid() (which emits records into the rings).

Each map holds values tagged with its own number in the upper 32 bits, so a value
written into the wrong map is seen. The child prints one JSON line per finding
(an exception of a type no caller could expect, a wrong value) and a last line
``{"done": ...}``; a crash is its signal, a hang the parent's timeout.
"""

from __future__ import annotations

import faulthandler
import gc
import json
import logging
import os
import random
import struct
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Tuple

from libbpf_py import (
    AlreadyLoadedError,
    BpfObject,
    Btf,
    ClosedError,
    LibbpfError,
    LibbpfVersionError,
    Link,
    Map,
    NotLoadedError,
    PerfBuffer,
    Program,
    RingBuffer,
    Skeleton,
    UserRingBuffer,
)
from libbpf_py._map_core import possible_cpus

WORKERS = 6
#: what a caller may meet when another thread closed the object or the kernel refused
EXPECTED = (ClosedError, LibbpfError, KeyError, ValueError, NotLoadedError,
            AlreadyLoadedError, LibbpfVersionError)
#: the tag of each tagged map: its values are (TAG << 32) | n
TAGS = {"counts": 0x11, "signed_vals": 0x22, "h": 0x33, "a": 0x44, "pcpu": 0x55,
        "pinned": 0x33}
NCPUS = possible_cpus()
MODE = 1 | 4 | 8  # ring_a, perf, drain the user ring buffer (events.bpf.c)

findings: List[Dict[str, Any]] = []
findings_lock = threading.Lock()


def report(kind: str, op: str, detail: str) -> None:
    with findings_lock:
        if len(findings) < 50:
            findings.append({"kind": kind, "op": op, "detail": detail})
            print(json.dumps(findings[-1]), flush=True)


def as_int(value: Any) -> int:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return int.from_bytes(bytes(value), sys.byteorder, signed=False)
    return int(value)


def check_tag(op: str, name: str, value: Any, zero_ok: bool = False) -> None:
    v = as_int(value) & ((1 << 64) - 1)
    if zero_ok and v == 0:
        return
    if v >> 32 != TAGS[name]:
        report("wrong value", op, f"{name}: {v:#x} has not the tag {TAGS[name]:#x}")


class World:
    """The shared objects of one round, by name; a name popped is gone."""

    def __init__(self, paths: Tuple[str, str, str], pin_dir: str, rng: random.Random) -> None:
        self.pid = os.getpid()
        self.pin_dir = pin_dir
        self.objs: Dict[str, Any] = {}
        self.lock = threading.Lock()
        self.ring_seen = 0
        maps_o, events_o, skel_o = paths
        mobj = BpfObject.open(maps_o)
        mobj.load()
        self.objs["mobj"] = mobj
        for n in range(8):
            mobj.maps.counts[n] = (TAGS["counts"] << 32) | n
            mobj.maps.signed_vals[n] = (TAGS["signed_vals"] << 32) | n
        ev = BpfObject.open(events_o)
        ev.load()
        ev.maps.ev_config[0] = struct.pack("IIII", self.pid, 1, MODE, 0)
        self.objs["ev"] = ev
        self.objs["link"] = ev.programs.on_getpid.attach()
        skel = Skeleton.open(skel_o)
        skel.rodata.target_pid = self.pid
        skel.load()
        skel.attach()
        self.objs["skel"] = skel
        self.objs["rb"] = RingBuffer(ev.maps.ring_a, self.on_ring)
        self.objs["pb"] = PerfBuffer(ev.maps.perf, self.on_perf)
        self.objs["urb"] = UserRingBuffer(ev.maps.uring)
        self.objs["btf"] = Btf.from_file(skel_o)
        h = Map.create("hash", 4, 8, 64, name="race_h")
        a = Map.create("array", 4, 8, 8, name="race_a")
        for n in range(8):
            h[n] = (TAGS["h"] << 32) | n
            a[n] = (TAGS["a"] << 32) | n
        self.objs["h"] = h
        self.objs["a"] = a
        path = os.path.join(pin_dir, f"h{rng.randrange(1 << 30)}")
        h.pin(path)
        self.objs["pinned"] = Map.from_pinned(path)
        h.unpin(path)
        self.objs["fdprog"] = Program.from_id(ev.programs.on_getpid.id)
        self.objs["fdlink"] = Link.from_id(self.objs["link"].id)

    def on_ring(self, view: Any) -> None:
        ring, _seq, tgid_pid = struct.unpack_from("IIQ", bytes(view))
        if ring != 0 or tgid_pid >> 32 != self.pid:
            report("wrong value", "ring_a record", f"ring={ring} tgid_pid={tgid_pid:#x}")

    def on_perf(self, cpu: int, view: Any) -> None:
        ring, _seq, tgid_pid = struct.unpack_from("IIQ", bytes(view))
        if ring != 2 or tgid_pid >> 32 != self.pid:
            report("wrong value", "perf record", f"ring={ring} tgid_pid={tgid_pid:#x}")

    def get(self, name: str) -> Any:
        obj = self.objs.get(name)
        if obj is None:
            raise ClosedError(f"{name} is gone")
        return obj

    def close_all(self) -> None:
        for name in ("rb", "pb", "urb", "fdlink", "fdprog", "link", "pinned", "h", "a",
                     "btf", "skel", "ev", "mobj"):
            obj = self.objs.pop(name, None)
            if obj is None:
                continue
            if name == "skel":
                obj.destroy()
            elif name == "link":
                obj.destroy()
            else:
                obj.close()


# -- operations ---------------------------------------------------------------------------

def op_map_rw(w: World, rng: random.Random, name: str, src: str) -> None:
    m = w.get(src).maps[name] if src == "mobj" else w.get(name)
    k = rng.randrange(8)
    choice = rng.randrange(10)
    if choice == 0:
        m[k] = (TAGS[name] << 32) | rng.randrange(1 << 32)
    elif choice == 1:
        for _key, value in m.items():
            check_tag("items", name, value, zero_ok=name == "a")
    elif choice == 2:
        _keys, values = m.lookup_batch_arrays(chunk=rng.choice((1, 3, 64)))[:2]
        for value in values:
            check_tag("lookup_batch_arrays", name, value, zero_ok=name == "a")
    elif choice == 3:
        for _key, value in m.lookup_batch(chunk=rng.choice((1, 3, 64))):
            check_tag("lookup_batch", name, value, zero_ok=name == "a")
    elif choice == 4:
        m.update_batch({j: (TAGS[name] << 32) | j for j in range(rng.randrange(1, 8))})
    elif choice == 5:
        m.info()
        _ = (m.name, m.type, m.key_size, m.value_size, m.max_entries, m.fd, m.id)
    elif choice == 6:
        path = os.path.join(w.pin_dir, f"{name}{rng.randrange(1 << 30)}")
        m.pin(path)
        try:
            m.unpin(path)
        finally:  # closed meanwhile: ClosedError, and the pin is ours to remove
            if os.path.exists(path):
                os.unlink(path)
    elif choice == 7:
        list(m.keys())
    else:
        value = m.get(k)
        if value is not None:
            check_tag("get", name, value, zero_ok=name == "a")


def op_pcpu(w: World, rng: random.Random) -> None:
    m = w.get("mobj").maps.pcpu
    if rng.randrange(2):
        m[rng.randrange(2)] = [(TAGS["pcpu"] << 32) | c for c in range(NCPUS)]
    else:
        for _k, values in m.items():
            for v in (values if isinstance(values, (list, tuple)) else [values]):
                if as_int(v) >= 1 << 20:  # small: xdp_fill's test_run counts in it
                    check_tag("pcpu items", "pcpu", v)


def op_outer(w: World, rng: random.Random) -> None:
    mobj = w.get("mobj")
    outer = mobj.maps.outer
    if rng.randrange(2):
        outer[1] = w.get(rng.choice(("h", "a"))) if rng.randrange(3) else mobj.maps.inner_a
    else:
        list(outer.items())
        outer.get(0)


def op_object(w: World, rng: random.Random) -> None:
    obj = w.get(rng.choice(("mobj", "ev")))
    for p in obj.programs.values():
        _ = (p.name, p.section, p.type, p.fd, p.insn_count, p.tag)
        if rng.randrange(4) == 0:
            p.info()
    for m in obj.maps.values():
        _ = (m.name, m.type, m.fd, m.max_entries)
    if rng.randrange(8) == 0 and obj.programs.get("xdp_fill") is not None:
        obj.programs.xdp_fill.test_run(b"\0" * 64)


def op_attach(w: World, rng: random.Random) -> None:
    ev = w.get("ev")
    link = ev.programs.on_getpid.attach()
    _ = (link.fd, link.id, link.program)
    link.info()
    link.destroy()


def op_link(w: World, rng: random.Random) -> None:
    link = w.get(rng.choice(("link", "fdlink")))
    _ = (link.fd, link.id, link.closed)
    link.info()
    if rng.randrange(4) == 0:
        path = os.path.join(w.pin_dir, f"l{rng.randrange(1 << 30)}")
        link.pin(path)
        try:
            link.unpin()
        finally:
            if os.path.exists(path):
                os.unlink(path)


def op_fdprog(w: World, rng: random.Random) -> None:
    p = w.get("fdprog")
    _ = (p.name, p.type, p.fd, p.id, p.tag)
    p.info()


def op_skel(w: World, rng: random.Random) -> None:
    skel = w.get("skel")
    choice = rng.randrange(7)
    if choice == 0:
        skel.set_var("lambda", (0x66 << 32 >> 32) + rng.randrange(100))
    elif choice == 1:
        v = skel.var("lambda")
        if not 0 <= v < 0x66 + 100:
            report("wrong value", "skel.var", f"lambda = {v!r}")
    elif choice == 2:
        _ = (skel.bss.counter, skel.data.init.x, skel.rodata.step, skel.bss.seen.kind)
    elif choice == 3:
        skel.data.lambda_ = rng.randrange(100)
    elif choice == 4:
        skel.detach()
        skel.attach()
    elif choice == 5:
        _ = (skel.sections, skel.loaded, skel.name, repr(skel))
        skel.obj.maps.kver.get(0)
    else:
        os.getppid()
        _ = skel.bss.ppid_calls


def op_rb(w: World, rng: random.Random) -> None:
    rb = w.get("rb")
    choice = rng.randrange(5)
    if choice == 0:
        rb.poll(rng.choice((0, 5)))
    elif choice == 1:
        rb.consume()
    elif choice == 2:
        for rec in rb.drain(0):
            w.on_ring(rec)
    elif choice == 3:
        rb.fileno()
        _ = rb.rings
    else:
        rb.consume_n(2)


def op_pb(w: World, rng: random.Random) -> None:
    pb = w.get("pb")
    choice = rng.randrange(3)
    if choice == 0:
        pb.poll(rng.choice((0, 5)))
    elif choice == 1:
        pb.consume()
    else:
        _ = (pb.buffer_count, pb.lost_count, pb.fileno())
        pb.consume_buffer(0)


def op_urb(w: World, rng: random.Random) -> None:
    urb = w.get("urb")
    if rng.randrange(2):
        urb.write(struct.pack("Q", rng.randrange(1 << 20)))
    else:
        r = urb.reserve(8)
        r.buffer[:] = struct.pack("Q", 5)
        if rng.randrange(2):
            r.submit()
        else:
            r.discard()


def op_btf(w: World, rng: random.Random) -> None:
    btf = w.get("btf")
    choice = rng.randrange(4)
    if choice == 0:
        btf.dump_c("struct layout")
    elif choice == 1:
        len(btf)
        btf["layout"]
    elif choice == 2:
        btf.raw_data()
    else:
        for t in btf:
            _ = t
            break


OPS: List[Tuple[str, Callable[[World, random.Random], None]]] = [
    ("counts", lambda w, r: op_map_rw(w, r, "counts", "mobj")),
    ("signed_vals", lambda w, r: op_map_rw(w, r, "signed_vals", "mobj")),
    ("h", lambda w, r: op_map_rw(w, r, "h", "h")),
    ("a", lambda w, r: op_map_rw(w, r, "a", "a")),
    ("pinned", lambda w, r: op_map_rw(w, r, "pinned", "pinned")),
    ("pcpu", op_pcpu), ("outer", op_outer), ("object", op_object), ("attach", op_attach),
    ("link", op_link), ("fdprog", op_fdprog), ("skel", op_skel), ("rb", op_rb),
    ("pb", op_pb), ("urb", op_urb), ("btf", op_btf),
]


def worker(w: World, seed: int, stop: threading.Event) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        name, fn = rng.choice(OPS)
        try:
            fn(w, rng)
        except EXPECTED:
            pass
        except BaseException as exc:  # anything else is a finding
            report(type(exc).__name__, name,
                   "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-1500:])


def producer(stop: threading.Event) -> None:
    while not stop.is_set():
        os.getpid()
        time.sleep(0.0005)


CLOSERS = {
    "mobj": lambda o: o.close(), "ev": lambda o: o.close(), "link": lambda o: o.destroy(),
    "skel": lambda o: o.destroy(), "rb": lambda o: o.close(), "pb": lambda o: o.close(),
    "urb": lambda o: o.close(), "btf": lambda o: o.close(), "h": lambda o: o.close(),
    "a": lambda o: o.close(), "pinned": lambda o: o.close(), "fdprog": lambda o: o.close(),
    "fdlink": lambda o: o.destroy(),
}


def closer(w: World, rng: random.Random, seconds: float, stop: threading.Event) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0, seconds / 4))
        names = [n for n in w.objs if rng.randrange(3) == 0]
        for name in names:
            try:
                if rng.randrange(3) == 0:  # drop the last reference held here: the gc path
                    w.objs.pop(name, None)
                    gc.collect()
                else:
                    CLOSERS[name](w.objs[name])
            except KeyError:
                pass
            except BaseException as exc:
                report(type(exc).__name__, f"close {name}",
                       "".join(traceback.format_exception(type(exc), exc,
                                                          exc.__traceback__))[-1500:])
    stop.set()


def main() -> int:
    seed, rounds, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    paths = (sys.argv[4], sys.argv[5], sys.argv[6])
    pin_dir = sys.argv[7]
    faulthandler.enable()
    logging.getLogger("libbpf_py").setLevel(logging.CRITICAL)  # EEXIST of attach races
    rng = random.Random(seed)
    for _round in range(rounds):
        # a hang shows where each thread waits
        faulthandler.dump_traceback_later(seconds * 4 + 60, exit=True)
        w = World(paths, pin_dir, rng)
        stop = threading.Event()
        threads = [threading.Thread(target=worker, args=(w, rng.randrange(1 << 30), stop))
                   for _ in range(WORKERS)]
        threads.append(threading.Thread(target=producer, args=(stop,)))
        threads.append(threading.Thread(target=closer,
                                        args=(w, random.Random(rng.randrange(1 << 30)),
                                              seconds, stop)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            w.close_all()
        except BaseException as exc:
            report(type(exc).__name__, "close_all", repr(exc))
        del w
        gc.collect()
        faulthandler.cancel_dump_traceback_later()
    leftover = os.listdir(pin_dir)
    if leftover:
        report("leftover pins", "end", repr(leftover))
    print(json.dumps({"done": rounds, "findings": len(findings)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
