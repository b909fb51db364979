"""What an environment's conda file asks for that the local provider cannot give.

The local provider runs jobs and deployments with the interpreter mlplan runs in: it does not build
the environment's image or conda environment. So a package the conda file lists but that interpreter
lacks makes the job fail at apply (``ModuleNotFoundError``). This says so at plan time, exactly:
which packages, and the command that installs them into that interpreter.
"""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# conda packages that are not Python distributions (or are the interpreter and its installer)
_NOT_DISTRIBUTIONS = frozenset({"python", "pip", "setuptools", "wheel", "conda", "libgcc", "_libgcc_mutex", "openssl"})
_CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)")


def wanted(conda: Mapping[str, Any]) -> list[str]:
    """The requirements of a conda environment file: its conda packages (by name) and its pip entries."""
    out: list[str] = []
    for dep in conda.get("dependencies") or []:
        if isinstance(dep, str):
            m = _CONDA_SPEC.match(dep.split("::")[-1].strip())
            if m and m.group(1).lower() not in _NOT_DISTRIBUTIONS:
                out.append(m.group(1))  # conda versions (x=1.3 is 1.3.*) are not pip's: the name is checked
        elif isinstance(dep, dict):
            out += [str(p).strip() for p in dep.get("pip") or [] if isinstance(p, str) and not p.startswith("-")]
    return out


def unmet(requirements: Iterable[str]) -> list[str]:
    """The requirements the running interpreter does not satisfy (missing, or another version)."""
    out = []
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue  # a URL, a local path, an editable install: not checkable here
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            installed = metadata.version(canonicalize_name(req.name))
        except metadata.PackageNotFoundError:
            out.append(text)
            continue
        if req.specifier and not req.specifier.contains(installed, prereleases=True):
            out.append(f"{text} (installed: {installed})")
    return out


def install_hint(missing: Iterable[str]) -> str:
    names = [m.split(" (installed")[0] for m in missing]
    return f"install them where mlplan runs: {shlex.quote(sys.executable)} -m pip install " + " ".join(
        shlex.quote(n) for n in names
    )
