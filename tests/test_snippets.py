"""Every ```python block of README.md and docs/*.md runs here, as a new user would paste it.

Each block is a program of its own: it runs in a child process (this interpreter, so the
build under test), as root, in a fresh directory holding ``prog.bpf.o`` compiled from
examples/prog.bpf.c by ``examples/build_prog.py`` (what the README tells users to run). It
must exit with status 0 and print no traceback. One test per block, named ``FILE:LINE``.

HTML comments on the lines right above a block's fence say more:

- ``<!-- snippet: not run: REASON -->``: a fragment (a list of calls, a line that needs
  hardware or an ``async for`` outside a coroutine). It must still compile.
- ``<!-- snippet: setup: CODE -->``: Python run before the block (a name it needs).
- ``<!-- snippet: expect: REGEX -->``: the block's output must match REGEX (multiline).

A block written as a doctest (``>>>`` lines) runs through :mod:`doctest`.
No snippet pins anything on bpffs; one that does must unpin what it pinned.
"""

from __future__ import annotations

import ast
import doctest
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!--\s*snippet:\s*([a-z ]+?)\s*:\s*(.*?)\s*-->\s*$", re.S)
KINDS = ("not run", "setup", "expect")


@dataclass
class Snippet:
    path: Path
    line: int                       # the line of the opening fence, 1-based
    source: str
    not_run: Optional[str] = None
    setup: List[str] = field(default_factory=list)
    expect: List[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_doctest(self) -> bool:
        return self.source.lstrip().startswith(">>>")

    def code(self) -> str:
        """The Python of the block (a doctest's examples, without their output)."""
        if not self.is_doctest:
            return self.source
        examples = doctest.DocTestParser().get_examples(self.source)
        return "".join(example.source for example in examples)


def _markers(lines: List[str], fence: int) -> List[str]:
    """The marker comments (one or more lines each) directly above line index ``fence``."""
    found: List[str] = []
    end = fence - 1
    while end >= 0 and lines[end].rstrip().endswith("-->"):
        start = end
        while start >= 0 and not lines[start].lstrip().startswith("<!--"):
            start -= 1
        if start < 0:
            break
        found.insert(0, "\n".join(lines[start:end + 1]))
        end = start - 1
    return found


def collect(path: Path) -> List[Snippet]:
    lines = path.read_text().split("\n")
    snippets = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            end = i + 1
            while end < len(lines) and lines[end].strip() != "```":
                end += 1
            snippet = Snippet(path, i + 1, "\n".join(lines[i + 1:end]) + "\n")
            for comment in _markers(lines, i):
                m = MARKER.match(comment)
                if m is None or m.group(1) not in KINDS:
                    raise ValueError(f"{snippet.id}: a comment above the block is not a "
                                     f"snippet marker ({', '.join(KINDS)}): {comment!r}")
                kind, value = m.groups()
                if kind == "not run":
                    snippet.not_run = value
                elif kind == "setup":
                    snippet.setup.append(textwrap.dedent(value))
                else:
                    snippet.expect.append(value)
            snippets.append(snippet)
            i = end
        i += 1
    return snippets


SNIPPETS = [s for path in DOCUMENTS for s in collect(path)]
RUN = [pytest.param(s, id=s.id) for s in SNIPPETS if s.not_run is None]
ALL = [pytest.param(s, id=s.id) for s in SNIPPETS]


def test_every_marker_belongs_to_a_block() -> None:
    """A marker separated from its block (a blank line, an edit) would silently not apply."""
    for path in DOCUMENTS:
        lines = path.read_text().split("\n")
        for i, line in enumerate(lines):
            if not line.lstrip().startswith("<!-- snippet:"):
                continue
            j = i
            while True:             # past this comment and the markers under it
                while j < len(lines) and not lines[j].rstrip().endswith("-->"):
                    j += 1
                j += 1
                if j >= len(lines) or not lines[j].lstrip().startswith("<!-- snippet:"):
                    break
            assert j < len(lines) and lines[j].strip() == "```python", (
                f"{path.relative_to(ROOT)}:{i + 1}: a snippet marker not directly above "
                "a ```python block")


def test_the_documents_have_snippets_that_run() -> None:
    assert len(RUN) >= 10, [s.id for s in SNIPPETS if s.not_run is None]
    assert all(s.not_run for s in SNIPPETS if s.not_run is not None), \
        "a 'not run' marker must give its reason"


@pytest.mark.parametrize("snippet", ALL)
def test_snippet_compiles(snippet: Snippet) -> None:
    """Every block, run or not, is valid Python (a top-level ``async for`` allowed in
    fragments, which say they run inside a coroutine)."""
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if snippet.not_run else 0
    for code in (*snippet.setup, snippet.code()):
        compile(code, snippet.id, "exec", flags=flags, dont_inherit=True)


@pytest.fixture(scope="module")
def prog_object(kernel: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prog.bpf.o, built the way the README says."""
    out = tmp_path_factory.mktemp("snippets-prog")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "build_prog.py"), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (out / "prog.bpf.o").is_file(), proc.stdout
    return out / "prog.bpf.o"


_DOCTEST_DRIVER = """\
import doctest, sys
text = open(sys.argv[1]).read()
test = doctest.DocTestParser().get_doctest(text, {}, sys.argv[2], sys.argv[2], 0)
runner = doctest.DocTestRunner()
runner.run(test)
sys.exit(1 if runner.failures else 0)
"""


@pytest.mark.kernel
@pytest.mark.parametrize("snippet", RUN)
def test_snippet_runs(snippet: Snippet, prog_object: Path, tmp_path: Path) -> None:
    shutil.copy(prog_object, tmp_path / "prog.bpf.o")
    setup = "".join(code + "\n" for code in snippet.setup)
    if snippet.is_doctest:
        (tmp_path / "snippet.txt").write_text(
            "".join(f">>> {line}\n" for line in setup.splitlines()) + snippet.source)
        (tmp_path / "driver.py").write_text(_DOCTEST_DRIVER)
        cmd = [sys.executable, "driver.py", "snippet.txt", snippet.id]
    else:
        (tmp_path / "snippet.py").write_text(setup + snippet.source)
        cmd = [sys.executable, "snippet.py"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    where = f"{snippet.id} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, where
    assert "Traceback" not in proc.stderr + proc.stdout, where
    for pattern in snippet.expect:
        assert re.search(pattern, proc.stdout, re.M), f"no match for {pattern!r}: {where}"
