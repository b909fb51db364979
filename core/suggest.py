"""Did-you-mean: the known name closest to a mistyped one (difflib, as Python's own error messages do)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, known: Iterable[str]) -> str | None:
    """The known name ``word`` most likely mistypes, or None when none is close enough."""
    found = difflib.get_close_matches(word, sorted(set(known)), n=1, cutoff=0.6)
    return found[0] if found else None


def closest_address(text: str, known: Iterable[str]) -> str | None:
    """The known address (``kind.name``) ``text`` most likely mistypes: by name among its kind first, then
    by name among the others (names alone: a shared ``model.`` prefix would make any two models look alike)."""
    kind, _, name = text.partition(".")
    same: dict[str, str] = {}
    other: dict[str, str] = {}
    for address in sorted(set(known)):
        k, _, n = address.partition(".")
        (same if k == kind else other).setdefault(n, address)
    for names in (same, other):
        found = closest(name, names)
        if found is not None:
            return names[found]
    return None


def suggestion(found: str | None, show: str = "{!r}") -> str:
    """``"; did you mean 'x'?"`` to append to a message, or ``""``; ``show`` formats the suggestion."""
    return f"; did you mean {show.format(found)}?" if found is not None else ""


def did_you_mean(word: str, known: Iterable[str], show: str = "{!r}") -> str:
    return suggestion(closest(word, known), show)


def did_you_mean_address(text: str, known: Iterable[str]) -> str:
    return suggestion(closest_address(text, known), "{}")
