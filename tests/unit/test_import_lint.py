"""Package boundaries: core/ imports none of the others; providers/ and state/ import only core/ (never the
engine); engine/ never imports an Azure SDK."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"core": "mlplan.core", "engine": "mlplan.engine", "providers": "mlplan.providers", "state": "mlplan.state"}


def _modules(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def _resolve(path: Path, level: int, module: str | None) -> str:
    """The absolute module of a relative import inside one of the packages."""
    rel = path.relative_to(REPO).with_suffix("")
    parts = [*PACKAGES[rel.parts[0]].split("."), *rel.parts[1:]]
    base = parts[:-1]  # the package of a module, and of an __init__ alike
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join([*base, *([module] if module else [])])


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Every module an import statement anywhere in the file (functions included) names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(path, node.level, node.module) if node.level else (node.module or "")
            yield node.lineno, base
            for alias in node.names:  # `from mlplan.engine import planner` imports mlplan.engine.planner
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in _modules(folder):
        for line, name in imported(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(REPO)}:{line}: imports {name}")
    return sorted(set(out))


def test_there_is_something_to_lint() -> None:
    for folder in PACKAGES:
        assert _modules(folder), folder
    names = {n for _l, n in imported(REPO / "engine" / "planner.py")}
    assert "mlplan.providers.base" in names and "networkx" in names


def test_engine_never_imports_an_azure_sdk() -> None:
    assert _violations("engine", ("azure",)) == []


def test_providers_never_import_the_engine_or_state() -> None:
    """Providers know resources, not plans: they build on core/ alone."""
    assert _violations("providers", ("mlplan.engine", "mlplan.state")) == []


def test_state_never_imports_the_engine_or_providers() -> None:
    assert _violations("state", ("mlplan.engine", "mlplan.providers")) == []


def test_core_imports_none_of_the_other_packages() -> None:
    assert _violations("core", ("mlplan.engine", "mlplan.providers", "mlplan.state", "azure")) == []


def test_only_the_azure_provider_imports_azure() -> None:
    outside = [p for p in _modules("providers") if "azure" not in p.relative_to(REPO / "providers").parts]
    bad = []
    for path in outside:
        bad += [f"{path.relative_to(REPO)}:{line}: {n}" for line, n in imported(path) if n.split(".")[0] == "azure"]
    assert bad == []


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_each_package_starts_with_a_docstring(folder: str) -> None:
    init = REPO / folder / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text())), f"{folder}/__init__.py has no docstring"


def test_the_linter_sees_imports_inside_functions(tmp_path: Path) -> None:
    """Guard against a lint that silently passes."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "def f():\n    from azure.ai.ml import MLClient\n    import azure.identity\n"
        "    importlib.import_module('azure.storage.blob')\n"
    )
    names = [n for _l, n in imported(probe)]
    assert {"azure.ai.ml", "azure.ai.ml.MLClient", "azure.identity", "azure.storage.blob"} <= set(names)


def test_relative_imports_are_resolved() -> None:
    here = REPO / "providers" / "local" / "assets.py"
    assert _resolve(here, 2, "base") == "mlplan.providers.base"
    assert _resolve(REPO / "engine" / "apply.py", 1, "planner") == "mlplan.engine.planner"
