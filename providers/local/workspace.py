"""The on-disk workspace of the local provider: atomic, versioned folders with an asset.json each."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from mlplan.core.faults import crashpoint
from mlplan.providers.base import Context

DEFAULT_PATH = ".mlplan/local-workspace"
META = "asset.json"


def workspace_root(ctx: Context) -> Path:
    return (ctx.root / str(ctx.workspace.get("path", DEFAULT_PATH))).resolve()


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError:
        return {"_corrupt": True}
    return data


class Staging:
    """Build a folder next to its destination, then move it into place in one rename."""

    def __init__(self, root: Path, operation: str = "") -> None:
        # named after the operation, so that what a dead one left can be found and removed
        self.dir = root / ".staging" / f"{operation or 'op'}-{uuid.uuid4().hex[:8]}"
        self.dir.mkdir(parents=True)

    @staticmethod
    def discard_for(root: Path, operation: str) -> None:
        for leftover in (root / ".staging").glob(f"{operation}-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def commit(self, dest: Path, replace: bool = False) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        crashpoint("mid_operation")  # the files are staged, not yet in place
        if replace and dest.exists():
            trash = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(dest, trash)
            os.rename(self.dir, dest)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(self.dir, dest)  # fails if dest exists: never overwrite a version

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def copy_into(src: Path, dest: Path, files: list[str] | None = None) -> None:
    """Copy a file, or the listed files of a folder, into ``dest``."""
    if src.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / src.name)
        return
    for rel in files or []:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)


def remove_tree(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        trash = path.with_name(f".{path.name}.del-{uuid.uuid4().hex[:8]}")
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
