"""`mlplan --help` wall time against `python -c "import click"` on the same interpreter.

Both run as fresh subprocesses (the installed console script .venv/bin/mlplan, and its own interpreter
from the script's shebang), one warm-up each, then best of R interleaved rounds. The peer is the least a
click CLI can cost: start the interpreter and import click. Also lists the slowest imports of
`mlplan --help` (python -X importtime) to show where any excess goes.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

TARGET = 2.0


def interpreter_of(script: Path) -> str:
    first = script.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


def slowest_imports(python: str, script: Path, cwd: str, env: dict[str, str], top: int = 10) -> list[str]:
    """The slowest imports of ``mlplan --help`` two levels deep, by cumulative time (python -X importtime)."""
    proc = subprocess.run(
        [python, "-X", "importtime", str(script), "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            if len(name) - len(name.lstrip()) <= 3:  # importtime indents 2 spaces per nesting level
                rows.append((int(parts[1]), name[1:]))
    rows.sort(reverse=True)
    return [f"{us / 1000:7.1f} ms  {name}" for us, name in rows[:top]]


def main() -> None:
    parser = common.arg_parser(__doc__)
    parser.add_argument("--repeat", type=int, default=10, help="rounds; the best is kept (default 10)")
    args = parser.parse_args()

    script = common.console_script()
    python = interpreter_of(script)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAN_", "PYTHON"))}
    cwd = tempfile.mkdtemp(prefix="mlplan-bench-cold-")

    def run(cmd: list[str]) -> None:
        subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)

    commands = {"mlplan": [str(script), "--help"], "click": [python, "-c", "import click"]}
    try:
        for cmd in commands.values():  # warm-up: page cache, .pyc files
            run(cmd)
        runners = {name: functools.partial(run, cmd) for name, cmd in commands.items()}
        timings = common.best_of_each(runners, args.repeat)
        common.report("console script", f"{script} (interpreter {python})")
        common.report("mlplan --help", timings["mlplan"].describe())
        common.report('python -c "import click"', timings["click"].describe())
        print("slowest imports of mlplan --help (cumulative, two levels deep):")
        for row in slowest_imports(python, script, cwd, env):
            print(f"  {row}")
        print(common.ratio_line(timings["mlplan"].best / timings["click"].best, TARGET))
    finally:
        os.rmdir(cwd)


if __name__ == "__main__":
    main()
