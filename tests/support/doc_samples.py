"""Run the CLI samples of the documentation and compare what they print with what the page shows.

A sample is a ```console block in docs/*.md: each `$ ` line is a command (continued with a
trailing backslash), the lines under it are its output, and `[exit N]` its exit code. Commands
may start with `NAME=value` assignments and `echo TEXT |` (what is typed at the prompt or read
from stdin), as in a shell. The samples of one page are run in order against a freshly seeded
sandbox (tests/support/sandbox.py), from a scratch folder that sees the repository's `tests/`.

"Shape" means the text after normalising what changes from run to run: digits of dates and
times, the sandbox's port, byte counts. A line `...` in a sample stands for any number of lines.

`python -m tests.support.doc_samples docs/getting-started.md` prints what each sample of a page
prints now, for writing a page; the test (tests/functional/test_docs_samples.py) compares.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PROGRAM = "mfa-enforcer"
ELLIPSIS = "..."
_FENCE = re.compile(r"^```(\w*)\s*$")
_EXIT = re.compile(r"^\[exit (\d+)\]$")
_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_PORT = re.compile(r"127\.0\.0\.1:\d+")
_BYTES = re.compile(r"\b\d+ bytes\b")


@dataclass(frozen=True)
class Sample:
    """One command of a console block and what the page says it prints."""

    page: str
    line: int
    command: str
    output: str
    exit_code: int | None
    raw: tuple[str, ...] = ()  # the command as written on the page (continuation lines included)

    def argv(self) -> tuple[dict[str, str], str | None, list[str]]:
        """(environment overrides, stdin text, arguments after the program name)."""
        return parse_command(self.command)


def parse_command(command: str) -> tuple[dict[str, str], str | None, list[str]]:
    """`A=1 echo y | mfa-enforcer scan --enforce` -> ({"A": "1"}, "y\\n", ["scan", "--enforce"])."""
    tokens = shlex.split(command)
    env: dict[str, str] = {}
    while tokens and _ASSIGNMENT.match(tokens[0]):
        name, _, value = tokens.pop(0).partition("=")
        env[name] = value
    stdin = None
    if tokens and tokens[0] == "echo":
        bar = tokens.index("|")
        stdin = " ".join(tokens[1:bar]) + "\n"
        tokens = tokens[bar + 1 :]
    if not tokens or tokens[0] != PROGRAM:
        raise ValueError(f"not a {PROGRAM} command: {command}")
    return env, stdin, tokens[1:]


def console_blocks(page: Path) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) of every ```console block of a page."""
    language: str | None = None  # None outside a code block
    start, block = 0, []
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        fence = _FENCE.match(line.strip())
        if fence and language is None:
            language, start, block = fence.group(1), number + 1, []
        elif fence:
            if language == "console":
                yield start, block
            language = None
        elif language is not None:
            block.append(line)


def samples(page: Path) -> list[Sample]:
    """Every CLI sample of a page, in page order."""
    found: list[Sample] = []
    for start, block in console_blocks(page):
        index = 0
        while index < len(block):
            line = block[index].strip()
            if not line.startswith("$ "):
                index += 1
                continue
            first = start + index
            command = line[2:]
            raw = [block[index]]
            while command.endswith("\\"):
                index += 1
                raw.append(block[index])
                command = command[:-1].rstrip() + " " + block[index].strip()
            index += 1
            output: list[str] = []
            exit_code = None
            while index < len(block) and not block[index].startswith("$ "):
                if (done := _EXIT.match(block[index].strip())) is not None:
                    exit_code = int(done.group(1))
                else:
                    output.append(block[index])
                index += 1
            while output and not output[-1].strip():
                output.pop()
            found.append(Sample(page.name, first, command, "\n".join(output), exit_code, tuple(raw)))
    return found


def cli_lines_outside_samples(page: Path) -> list[tuple[int, str]]:
    """`mfa-enforcer ...` commands in bash blocks (no output shown), which a test parses but does not run."""
    found = []
    language: str | None = None
    command, first = "", 0
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        fence = _FENCE.match(line.strip())
        if fence:
            language = fence.group(1) if language is None else None
            continue
        if language not in ("bash", "sh", "shell"):
            continue
        text = line.split(" #", 1)[0].strip()
        if command:
            command = command[:-1].rstrip() + " " + text
        elif text.startswith((f".venv/bin/{PROGRAM} ", f"{PROGRAM} ")):
            command, first = text.removeprefix(".venv/bin/"), number
        if command and not command.endswith("\\"):
            found.append((first, command))
            command = ""
    return found


def shape(text: str) -> str:
    """The text with what differs between runs made uniform; trailing spaces and blank ends dropped."""
    text = _DATETIME.sub(lambda m: re.sub(r"\d", "0", m.group(0)), text)
    text = _DATE.sub("0000-00-00", text)
    text = _PORT.sub("127.0.0.1:PORT", text)
    text = _BYTES.sub("N bytes", text)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def matches(expected: str, actual: str) -> bool:
    """Shape equality, where a line `...` in `expected` stands for any number of lines."""
    pattern = "".join(
        r"(?:[^\n]*\n)*?" if line.strip() == ELLIPSIS else re.escape(line) + r"\n"
        for line in shape(expected).splitlines()
    )
    return re.fullmatch(pattern, shape(actual) + "\n") is not None


@contextlib.contextmanager
def _environment(overrides: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run(sample: Sample) -> tuple[str, int]:
    """Run one sample in-process, stdout and stderr in one stream as a terminal shows them."""
    from chalicelib.cli.main import main

    env, stdin, argv = sample.argv()
    combined = io.StringIO()
    saved_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin or "")
    try:
        with _environment(env), contextlib.redirect_stdout(combined), contextlib.redirect_stderr(combined):
            code = main(argv)
    finally:
        sys.stdin = saved_stdin
    return combined.getvalue(), code


def rewrite(page: Path, results: dict[int, tuple[str, int]]) -> str:
    """The page with each sample's output replaced by what it printed (samples with `...` are kept)."""
    lines = page.read_text().splitlines()
    by_line = {s.line: s for s in samples(page)}
    out: list[str] = []
    index = 0
    while index < len(lines):
        sample = by_line.get(index + 1)
        if sample is None:
            out.append(lines[index])
            index += 1
            continue
        out.extend(sample.raw)
        index += len(sample.raw)
        while index < len(lines) and not lines[index].startswith(("$ ", "```")):
            index += 1  # the old output and exit line
        text, code = results[sample.line]
        kept = ELLIPSIS in sample.output.splitlines()
        out.extend(line.rstrip() for line in (sample.output if kept else text.rstrip("\n")).splitlines())
        out.append(f"[exit {sample.exit_code if kept and sample.exit_code is not None else code}]")
        if index < len(lines) and lines[index].startswith("$ "):
            out.append("")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print (or with --write, put into the page) what every sample prints now, a fresh sandbox per page."""
    from tests.support import sandbox

    args = list(sys.argv[1:] if argv is None else argv)
    write = "--write" in args
    pages = [Path(p) for p in args if p != "--write"] or sorted(DOCS.glob("*.md"))
    for page in pages:
        page_samples = samples(page)
        if not page_samples:
            continue
        results: dict[int, tuple[str, int]] = {}
        with sandbox.serve() as box, _environment(box.environment):
            for sample in page_samples:
                results[sample.line] = run(sample)
                if not write:
                    output, code = results[sample.line]
                    print(f"# {page.name}:{sample.line}\n$ {sample.command}\n{output.rstrip()}\n[exit {code}]\n")
        if write:
            page.write_text(rewrite(page, results))
            print(f"{page}: {len(page_samples)} samples written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
