"""The README's CLI reference covers every command the CLI has (and names no command it lacks)."""

from __future__ import annotations

import re

from tests.conftest import REPO, run_mlplan


def commands_in_help(*group: str) -> set[str]:
    r = run_mlplan(*group, "--help")
    assert r.code == 0, r.text
    section = r.out.split("Commands:", 1)[1]
    return {m.group(1) for m in re.finditer(r"^  ([a-z][a-z-]*)\s", section, re.MULTILINE)}


def test_readme_cli_reference_lists_every_command() -> None:
    readme = (REPO / "README.md").read_text()
    table = readme.split("## CLI reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `mlplan ([a-z-]+)", table, re.MULTILINE))
    commands = commands_in_help()
    assert documented == commands, f"only in README: {documented - commands}; undocumented: {commands - documented}"
    [state_row] = [line for line in table.splitlines() if line.startswith("| `mlplan state ")]
    for sub in commands_in_help("state"):
        assert re.search(rf"`(mlplan state )?{sub}\b", state_row), f"state {sub} is not in the README"
