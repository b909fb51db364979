"""YAML reading with line numbers, on libyaml when it is there (fast path for large projects)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlplan.core.errors import Diagnostic

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[str, Any]):
    """A mapping that remembers the 1-based line of itself and of each of its keys."""

    __slots__ = ("key_lines", "line")

    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.key_lines: dict[str, int] = {}


class _Loader(_Base):  # type: ignore[misc]
    pass


class _DuplicateKey(yaml.MarkedYAMLError):
    """A key given twice in one mapping (PyYAML would keep the last one silently)."""


def _duplicate(key: Any, key_node: yaml.Node, first_line: int) -> _DuplicateKey:
    return _DuplicateKey(None, None, f"duplicate key {key!r} (first on line {first_line})", key_node.start_mark)


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> LineDict:
    out = LineDict()
    out.line = node.start_mark.line + 1
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            key = str(key)
        if key in out:
            raise _duplicate(key, key_node, out.key_lines[key])
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class YamlError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def load_text(text: str, file: str) -> Any:
    """Parse one YAML document; a syntax error becomes a Diagnostic with the file and line."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        hint = (
            "keep one of the two (YAML tools disagree on which one wins)"
            if isinstance(exc, _DuplicateKey)
            else "fix the YAML syntax (indentation, quotes, a missing ':'); `yamllint` can help"
        )
        raise YamlError(Diagnostic(f"malformed YAML: {what}", file=file, line=line, hint=hint)) from exc
    except yaml.YAMLError as exc:
        raise YamlError(Diagnostic(f"malformed YAML: {exc}", file=file, hint="fix the YAML syntax")) from exc


def _read(path: str | Path, display: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise YamlError(Diagnostic(f"cannot read file: {exc.strerror}", file=display)) from exc
    except UnicodeDecodeError as exc:
        raise YamlError(Diagnostic("file is not UTF-8 text", file=display)) from exc


def load_file(path: str | Path, display: str) -> Any:
    return load_text(_read(path, display), display)


def line_of(node: Any, key: str | None = None) -> int | None:
    """Best-known line of ``node[key]`` (or of the node itself)."""
    if isinstance(node, LineDict):
        if key is not None and key in node.key_lines:
            return node.key_lines[key]
        return node.line or None
    return None


def plain(value: Any) -> Any:
    """A deep copy as plain dicts and lists (for hashing, JSON and the providers)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


_STR_TAG = "tag:yaml.org,2002:str"


class _FastLoader(_Base):  # type: ignore[misc]
    """libyaml's parser and the stock constructor (what the plan benchmark's bound uses), with shortcuts that
    build the same values: a string is its node's text (what the stock string constructor returns, three calls
    later); a plain scalar's tag is looked up once per distinct (text, style) and remembered, not matched
    against the resolver's regular expressions every time; and a duplicate-key check that costs one length
    comparison per mapping when there is none."""

    _tags: dict[tuple[str, Any], str] = {}  # scalar tags by (text, implicit): the same in every file
    _TAGS_MAX = 50_000  # a bound on memory: distinct texts (descriptions, names) are many in a large project

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            if len(self._tags) >= self._TAGS_MAX:
                self._tags.clear()
            tag = self._tags[key] = super().resolve(kind, value, implicit)
        return tag

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.tag == _STR_TAG and node.__class__ is yaml.ScalarNode:
            return node.value
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        out: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(out) != len(node.value):
            # a duplicate, or keys a merge (<<) brought in that this mapping overrides: look closer
            start, end = node.start_mark.index, node.end_mark.index
            own = [k for k, _ in node.value if start <= k.start_mark.index < end]
            seen: dict[Any, int] = {}
            for key_node in own:
                key = self.construct_object(key_node)
                if key in seen:
                    raise _duplicate(key, key_node, seen[key])
                seen[key] = key_node.start_mark.line + 1
        return out


def load_plain(path: str | Path, display: str) -> Any:
    """Parse a file fast, without line numbers (see ``Lines`` for them, when an error needs one)."""
    text = _read(path, display)
    try:
        return yaml.load(text, Loader=_FastLoader)
    except yaml.YAMLError:
        return load_text(text, display)  # parse again for the error's line


class Lines:
    """Line numbers of a file's keys, parsed only when first asked for (errors are rare)."""

    def __init__(self, path: str | Path, display: str, prefix: tuple[str, ...] = ()) -> None:
        self.path, self.display, self.prefix = path, display, prefix
        self._tree: Any = None

    def _load(self) -> Any:
        if self._tree is None:
            try:
                self._tree = load_file(self.path, self.display)
            except YamlError:
                self._tree = {}
        return self._tree

    def line(self, path: tuple[str, ...] = ()) -> int | None:
        from mlplan.engine.interpolate import line_for_path

        return line_for_path(self._load(), (*self.prefix, *path))

    def sub(self, *prefix: str) -> Lines:
        """The lines of a part of this file (a job's output, for the asset it registers)."""
        child = Lines(self.path, self.display, (*self.prefix, *prefix))
        child._tree = self._tree
        return child
