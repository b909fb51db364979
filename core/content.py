"""Content hashing of local files and folders, honouring .amlignore / .gitignore as azure-ai-ml does."""

from __future__ import annotations

import hashlib
import json
import os
import stat
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


def _ignore_spec(folder: str, entries: list[os.DirEntry[str]]) -> pathspec.PathSpec[Any] | None:
    """The folder's .amlignore, else its .gitignore, found among the entries already listed (no stat each)."""
    by_name = {e.name: e for e in entries if e.name in IGNORE_FILES}
    for name in IGNORE_FILES:
        entry = by_name.get(name)
        if entry is not None and entry.is_file():
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                return pathspec.GitIgnoreSpec.from_lines(fh.read().splitlines())
    return None


def _scan(folder: str) -> list[os.DirEntry[str]] | None:
    """The entries of a folder; None when it cannot be listed (os.walk skips such a folder silently too)."""
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
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

    def digest(self, path: str, st: os.stat_result | None = None) -> str:
        """The sha256 of a file; ``st`` is its os.stat when the caller has it already."""
        if st is None:
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


def file_digest(path: str | os.PathLike[str], cache: DigestCache = _NO_CACHE) -> str:
    return cache.digest(os.fspath(path)) if cache is not _NO_CACHE else _sha256(os.fspath(path))


def list_files(folder: str | os.PathLike[str]) -> list[str]:
    """Relative POSIX paths of the files under ``folder`` that would be uploaded, in the order os.walk gives
    them (a folder's own files, sorted, then each subfolder's in turn): digests depend on that order.

    One os.scandir per folder serves the ignore file, the listing and the symlink check alike.
    """
    top = os.fspath(folder)
    entries = _scan(top)
    if entries is None:
        return []
    out: list[str] = []
    _walk(top, "", entries, _ignore_spec(top, entries), out)
    return out


def _walk(
    folder: str, rel_dir: str, entries: list[os.DirEntry[str]], spec: pathspec.PathSpec[Any] | None, out: list[str]
) -> None:
    dirs: list[os.DirEntry[str]] = []
    names: list[str] = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            dirs.append(entry)
        else:
            names.append(entry.name)
    for name in sorted(names):
        rel = rel_dir + name
        if name in IGNORE_FILES or (spec is not None and spec.match_file(rel)):
            continue
        out.append(rel)
    for entry in sorted(dirs, key=lambda e: e.name):
        sub_rel = rel_dir + entry.name + "/"
        if (spec is not None and spec.match_file(sub_rel)) or _is_link(entry):
            continue  # ignored, or a symlinked folder (os.walk does not follow those)
        sub = os.path.join(folder, entry.name)
        sub_entries = _scan(sub)
        if sub_entries is not None:
            _walk(sub, sub_rel, sub_entries, spec, out)


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def hash_path(path: str | os.PathLike[str], cache: DigestCache = _NO_CACHE) -> Content:
    """Hash a file or folder; the digest covers relative names and contents."""
    where = os.fspath(path)
    try:
        st: os.stat_result | None = os.stat(where)
    except (OSError, ValueError):
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):
        d = cache.digest(where, st) if cache is not _NO_CACHE else _sha256(where)
        return Content(d, {os.path.basename(where): d})
    files = {rel: file_digest(os.path.join(where, rel), cache) for rel in list_files(where)}
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
