"""Content hashing: what azure-ai-ml would upload (.amlignore, else .gitignore), and the stat cache."""

from __future__ import annotations

import os
from pathlib import Path

from mlplan.core.content import DigestCache, describe_change, hash_path, list_files


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_amlignore_wins_over_gitignore(tmp_path: Path) -> None:
    src = tree(
        tmp_path / "src",
        {
            "train.py": "x",
            "notes.md": "n",
            "data/big.csv": "1,2",
            "__pycache__/train.cpython-311.pyc": "b",
            ".amlignore": "*.md\n__pycache__/\n",
            ".gitignore": "data/\n",
        },
    )
    # .gitignore is not read when .amlignore exists
    assert sorted(list_files(src)) == ["data/big.csv", "train.py"]
    (src / ".amlignore").unlink()
    assert sorted(list_files(src)) == ["__pycache__/train.cpython-311.pyc", "notes.md", "train.py"]


def test_ignored_files_do_not_change_the_digest(tmp_path: Path) -> None:
    src = tree(tmp_path / "src", {"train.py": "x", ".amlignore": "*.log\n"})
    before = hash_path(src).digest
    (src / "run.log").write_text("noise")
    assert hash_path(src).digest == before
    (src / "train.py").write_text("y")
    after = hash_path(src)
    assert after.digest != before
    assert describe_change({"train.py": "old"}, after.files) == "train.py"


def test_renaming_a_file_changes_the_digest(tmp_path: Path) -> None:
    src = tree(tmp_path / "src", {"a.py": "same"})
    before = hash_path(src).digest
    (src / "a.py").rename(src / "b.py")
    assert hash_path(src).digest != before


def test_digest_cache_skips_reading_unchanged_files_and_sees_changes(tmp_path: Path) -> None:
    f = tmp_path / "data.csv"
    f.write_text("1,2\n")
    old = os.stat(f).st_mtime - 60
    os.utime(f, (old, old))  # not "racy": older than the cache's guard window
    cache = DigestCache(tmp_path / "cache.json")
    first = cache.digest(str(f))
    cache.save()
    reloaded = DigestCache(tmp_path / "cache.json")
    assert reloaded.entries[str(f)][3] == first
    reloaded.entries[str(f)][3] = "cached"  # prove the next answer comes from the cache, not a read
    assert reloaded.digest(str(f)) == "cached"
    f.write_text("3,4,5\n")  # size and mtime change: read again
    assert reloaded.digest(str(f)) not in ("cached", first)


def test_recently_modified_files_are_not_cached(tmp_path: Path) -> None:
    f = tmp_path / "fresh.csv"
    f.write_text("1\n")
    cache = DigestCache(tmp_path / "cache.json")
    cache.digest(str(f))
    assert str(f) not in cache.entries  # same-tick edits could otherwise go unnoticed
