"""Duration strings such as ``24h``, ``90m`` or ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+)([smhd])")
_WHOLE = re.compile(r"^(?:[0-9]+[smhd])+$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """Parse ``24h``/``1h30m``/``45s``; raises ValueError with the accepted forms."""
    text = str(text).strip()
    if not _WHOLE.match(text):
        raise ValueError(f"invalid duration {text!r}: use a number and a unit s, m, h or d, e.g. 24h or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _PART.findall(text)))
