"""The CLI's last resort: an unexpected exception is a message and exit 1, not a traceback."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

from mlplan.engine import cli


@pytest.fixture
def boom() -> Iterator[click.Command]:
    def fail() -> None:
        raise ZeroDivisionError("division by zero")

    command = click.Command("boom", callback=fail)
    cli.cli.add_command(command)
    yield command
    cli.cli.commands.pop("boom")


def test_a_bug_is_reported_without_a_traceback(boom: click.Command, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["boom"])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: internal error: ZeroDivisionError: division by zero\n")
    assert "MLPLAN_DEBUG=1" in err and "Traceback" not in err


def test_mlplan_debug_shows_the_traceback(boom: click.Command, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLPLAN_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["boom"])
