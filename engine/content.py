"""Content hashing of local files and folders, honouring .amlignore / .gitignore as azure-ai-ml does."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

# azure-ai-ml uses .amlignore when present, else .gitignore, found in the uploaded folder.
IGNORE_FILES = (".amlignore", ".gitignore")
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Content:
    """The digest of a file or folder and, for folders, the per-file digests (relative paths)."""

    digest: str
    files: dict[str, str]


def _ignore_spec(folder: Path) -> pathspec.PathSpec[Any] | None:
    for name in IGNORE_FILES:
        f = folder / name
        if f.is_file():
            return pathspec.PathSpec.from_lines("gitwildmatch", f.read_text(encoding="utf-8").splitlines())
    return None


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def list_files(folder: Path) -> list[str]:
    """Relative POSIX paths of the files under ``folder`` that would be uploaded."""
    spec = _ignore_spec(folder)
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        if spec is not None:
            dirnames[:] = [d for d in dirnames if not spec.match_file(rel_dir + d + "/")]
        dirnames.sort()
        for name in sorted(filenames):
            rel = rel_dir + name
            if name in IGNORE_FILES or (spec is not None and spec.match_file(rel)):
                continue
            out.append(rel)
    return out


def hash_path(path: Path) -> Content:
    """Hash a file or folder; the digest covers relative names and contents."""
    if path.is_file():
        d = file_digest(path)
        return Content(d, {path.name: d})
    files = {rel: file_digest(path / rel) for rel in list_files(path)}
    h = hashlib.sha256()
    for rel, d in files.items():
        h.update(rel.encode())
        h.update(b"\0")
        h.update(d.encode())
        h.update(b"\n")
    return Content(h.hexdigest(), files)


def describe_change(old: dict[str, str], new: dict[str, str], limit: int = 5) -> str:
    """``src/train.py`` / ``+data.csv`` / ``-old.csv``: which files changed."""
    changed = [f for f in new if f in old and old[f] != new[f]]
    added = [f"+{f}" for f in new if f not in old]
    removed = [f"-{f}" for f in old if f not in new]
    items = changed + added + removed
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f" and {len(items) - limit} more"
    return text
