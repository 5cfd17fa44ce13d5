"""Build ``prog.bpf.o``, the sample program of the README's and docs' snippets.

``python examples/build_prog.py [OUTPUT_DIR]`` compiles ``examples/prog.bpf.c`` into
``OUTPUT_DIR/prog.bpf.o`` (default: the current directory), as every example is built
(``_common.py``): ``bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h``,
then ``clang -g -O2 -target bpf -D__TARGET_ARCH_x86`` against that vmlinux.h and the
headers of the libbpf libbpf_py was built with.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import write_object


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    print(write_object("prog", out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
