"""Content hashing of local files and folders, honouring .amlignore / .gitignore as azure-ai-ml does."""

from __future__ import annotations

import hashlib
import json
import os
import time
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
            return pathspec.GitIgnoreSpec.from_lines(f.read_text(encoding="utf-8").splitlines())
    return None


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class DigestCache:
    """File digests keyed by (size, mtime_ns, inode), as git's index does: a stat instead of a read.

    A file changed within the same mtime tick as its caching could be missed, so files modified in
    the last ``RACY_S`` seconds are never cached. Kept in ``.mlplan/cache/digests.json``.
    """

    RACY_S = 2.0

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        if path is not None:
            try:
                self.entries = json.loads(path.read_text())
            except (OSError, ValueError):
                self.entries = {}

    def digest(self, path: str) -> str:
        st = os.stat(path)
        key = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = self.entries.get(path)
        if hit is not None and hit[:3] == key:
            return str(hit[3])
        d = _sha256(path)
        if time.time() - st.st_mtime > self.RACY_S:
            self.entries[path] = [*key, d]
            self.dirty = True
        return d

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.entries, separators=(",", ":")))
        os.replace(tmp, self.path)  # a cache: atomic, but no fsync needed
        self.dirty = False


_NO_CACHE = DigestCache()


def file_digest(path: Path, cache: DigestCache = _NO_CACHE) -> str:
    return cache.digest(str(path)) if cache is not _NO_CACHE else _sha256(str(path))


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


def hash_path(path: Path, cache: DigestCache = _NO_CACHE) -> Content:
    """Hash a file or folder; the digest covers relative names and contents."""
    if os.path.isfile(path):
        d = file_digest(path, cache)
        return Content(d, {path.name: d})
    files = {rel: file_digest(path / rel, cache) for rel in list_files(path)}
    h = hashlib.sha256()
    for rel, d in files.items():
        h.update(rel.encode())
        h.update(b"\0")
        h.update(d.encode())
        h.update(b"\n")
    return Content(h.hexdigest(), files)


def is_digest(value: object) -> bool:
    """A sha256 hex digest, or a non-empty mapping of them (content digests: not for reading)."""
    if isinstance(value, dict):
        return bool(value) and all(is_digest(v) for v in value.values())
    return isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)


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
