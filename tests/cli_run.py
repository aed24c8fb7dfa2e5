"""`careers-bot` commands run in the test process: bot.cli.main with argv, as the console script
calls it, with standard input, output and error swapped for in-memory files.

A command run this way behaves as the installed script does (the same argument parsing, the
same asyncio.run per command, the same Console reading COLUMNS and NO_COLOR from the
environment, Ctrl-C handling included) without paying for a new interpreter and its imports
(about 2 s a command). tests/test_cli.py keeps real console-script runs for each command
family (`careers_bot_process`), and so do the tests that drive `careers-bot` from inside
an event loop (tests/test_cross_channel.py, tests/test_two_schools.py, ...).

Restrictions: call it from a plain (sync) test in the main thread, never while an event loop
runs in this thread (asyncio.run refuses; a chat installs a SIGINT handler, which only the main
thread may do).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence


@contextlib.contextmanager
def _environment(changes: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _stream(text: str = "") -> io.TextIOWrapper:
    """A text stream with a binary .buffer beneath it, as sys.stdout has (export --out -)."""
    return io.TextIOWrapper(io.BytesIO(text.encode()), encoding="utf-8", write_through=True)


def _read(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.buffer.getvalue()  # type: ignore[attr-defined]
    # Decoded as subprocess.run(text=True) does: universal newlines.
    return raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")


def run_main(
    argv: Sequence[str], *, stdin: str = "", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """bot.cli.main(argv) here; the exit status and output as subprocess.run would give them."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("run_main cannot run inside an event loop: use the real console script")
    from bot import cli, rendering

    out, err, given = _stream(), _stream(), _stream(stdin)
    saved = sys.stdin, sys.stdout, sys.stderr
    interrupt_handler = signal.getsignal(signal.SIGINT)
    code: int
    try:
        with _environment(env or {}):
            sys.stdin, sys.stdout, sys.stderr = given, out, err
            try:
                code = cli.main(list(argv))
            except SystemExit as exc:  # argparse (--help, a usage error) exits
                if exc.code is None:
                    code = 0
                elif isinstance(exc.code, int):
                    code = exc.code
                else:
                    print(exc.code, file=sys.stderr)
                    code = 1
            except Exception:  # what the interpreter would print before exiting with 1
                traceback.print_exc()
                code = 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        signal.signal(signal.SIGINT, interrupt_handler)  # main() ignores Ctrl-C after one
        # main() switched drawing to this process for the command (rendering.draw_here):
        # later tests in this process get the worker pool again, started on first use.
        rendering.shutdown()
    return subprocess.CompletedProcess(
        ["careers-bot", *argv], code, stdout=_read(out), stderr=_read(err)
    )
