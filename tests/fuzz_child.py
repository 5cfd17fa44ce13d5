"""The Python side of tests/test_fuzz.py: one mutant per stdin line, one JSON line back.

Run as ``python fuzz_child.py PIN_ROOT``. For each path it opens the image with
``BpfObject.open_mem`` (and loads it), ``BpfObject.open`` and ``Skeleton.open``
(reads every data section, loads, reads them again), and answers
``{"open": e, "load": e, "open_file": e, "skel_open": e, "skel_load": e}`` where
``e`` is 0 (success), the errno of a LibbpfError, "-" (not tried) or
"EXC <type>: <message>" for any other exception. A crash leaves the line
unanswered: the parent attributes it to the current path.
"""

from __future__ import annotations

import ctypes
import json
import sys
from typing import Any, Callable, Dict, Union

from libbpf_py import BpfObject, Skeleton
from libbpf_py.errors import LibbpfError

Result = Union[int, str]

#: the refusal Skeleton gives for a section bigger than any map value the kernel takes
SECTION_TOO_BIG = "more than the kernel accepts"


def outcome(fn: Callable[[], Any]) -> Result:
    try:
        fn()
    except LibbpfError as exc:
        return int(exc.errno or -1)
    except MemoryError:
        return "EXC MemoryError"
    except Exception as exc:
        return f"EXC {type(exc).__name__}: {exc}"[:300]
    return 0


def touch_sections(skel: Skeleton) -> None:
    for ident in skel.sections:
        try:
            view = getattr(skel, ident)
        except ValueError as exc:
            if SECTION_TOO_BIG not in str(exc):
                raise
            continue
        ctypes.string_at(ctypes.addressof(view), min(64, ctypes.sizeof(view)))


def run(path: str, pin_root: str) -> Dict[str, Result]:
    res: Dict[str, Result] = {"open": "-", "load": "-", "open_file": "-", "skel_open": "-",
                              "skel_load": "-"}
    with open(path, "rb") as f:
        data = f.read()
    holder: Dict[str, Any] = {}

    def open_mem() -> None:
        holder["obj"] = BpfObject.open_mem(data, pin_root_path=pin_root)

    res["open"] = outcome(open_mem)
    obj = holder.pop("obj", None)
    if obj is not None:
        with obj:
            res["load"] = outcome(obj.load)
    res["open_file"] = outcome(lambda: BpfObject.open(path, pin_root_path=pin_root).close())

    def skel_open() -> None:
        holder["skel"] = Skeleton.open(data, pin_root_path=pin_root)

    res["skel_open"] = outcome(skel_open)
    skel = holder.pop("skel", None)
    if skel is not None:
        with skel:
            views = outcome(lambda: touch_sections(skel))
            if views != 0:
                res["skel_open"] = views
            res["skel_load"] = outcome(skel.load)
            if res["skel_load"] == 0:
                views = outcome(lambda: touch_sections(skel))
                if views != 0:
                    res["skel_load"] = views
    return res


def main() -> None:
    pin_root = sys.argv[1]
    for line in sys.stdin:
        path = line.rstrip("\n")
        print(json.dumps(run(path, pin_root)), flush=True)


if __name__ == "__main__":
    main()
