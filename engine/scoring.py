"""Scoring an evaluation set through a deployment: the table, the request formats, batches in parallel.

The engine knows no provider here: ``score`` takes an ``invoke(deployment, body, content_type) -> bytes``
callable (a provider's ``ResourceType.invoke`` with its context and endpoint bound), and ``read_table``
a local path (a data asset type's ``fetch``).

Request formats (a promotion policy's ``scoring:`` key):

- ``default``: ``{"data": rows}`` in, as a score.py like the quickstart's reads it;
- ``mlflow``: ``{"input_data": {"columns": [...], "data": rows}}`` in, as Azure ML's MLflow deployments read it;
- ``{"adapter": "path/to/file.py:function"}``: a function of the project (path relative to mlplan.yaml)
  that gets ``(columns, rows)`` and returns the request body (bytes, text, or a value sent as JSON); if the
  file also defines ``parse_<function>(body: bytes)``, that reads the answer into one prediction per row.

An answer is read (default, mlflow, and adapters without a parser) as a JSON list of predictions or
``{"predictions": [...]}``, each prediction a value or a one-element list or object (MLflow's shapes for a
one-column result); a JSON string holding such JSON (a run() that returns ``json.dumps(...)``) too.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mlplan.core.errors import ScoringError
from mlplan.core.suggest import did_you_mean
from mlplan.providers.base import Cancelled

if TYPE_CHECKING:  # numpy is imported when scoring, not by every command that imports the engine
    import numpy as np

Cell = float | str | None
Invoke = Callable[[str, bytes, str], bytes]  # (deployment, body, content_type) -> response body

DEFAULT_BATCH_SIZE = 100
DEFAULT_CONCURRENCY = 4
# Azure ML's default request_settings.max_concurrent_requests_per_instance: more requests at once answer 429
AZURE_CONCURRENT_PER_INSTANCE = 1
SHOWN = 200  # characters of an unreadable answer shown in the error


# -- the evaluation table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Table:
    """An evaluation set: feature columns and rows as sent to a deployment, and the true labels."""

    asset: str  # what messages call it: "data asset cancer-eval:1"
    columns: list[str]
    rows: list[list[Cell]]
    label_column: str
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def find_csv(path: Path, asset: str) -> Path:
    """The CSV file of an evaluation data asset's files: a ``.csv`` file, or a folder holding exactly one."""
    how = "mlplan scores a CSV file: a uri_file .csv, or a uri_folder holding exactly one .csv"
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return path
        raise ScoringError(f"{asset}: {path.name} is not a .csv file; {how}")
    if not path.is_dir():
        raise ScoringError(f"{asset}: its files are missing ({path})")
    if (path / "MLTable").is_file():
        raise ScoringError(f"{asset}: an MLTable is not read by mlplan's evaluation; {how}")
    found = sorted(
        p for p in path.rglob("*.csv") if p.is_file() and not any(s.startswith(".") for s in p.relative_to(path).parts)
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise ScoringError(f"{asset}: the folder holds no .csv file; {how}")
    names = ", ".join(str(p.relative_to(path)) for p in found[:5]) + (", ..." if len(found) > 5 else "")
    raise ScoringError(f"{asset}: the folder holds {len(found)} .csv files ({names}); {how}")


def read_table(path: Path, label_column: str, asset: str) -> Table:
    """Read the evaluation CSV at ``path`` (a file or a folder, see ``find_csv``). A feature column whose
    values all parse as numbers is sent as numbers (an empty cell as null), any other as text; labels are
    whole numbers, else numbers, else text, whichever all of them are."""
    import numpy as np

    source = find_csv(path, asset)
    with source.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise ScoringError(f"{asset}: {source.name} is empty (no header line)")
        raw: list[list[str]] = []
        for row in reader:
            if not row:
                continue  # a blank line
            if len(row) != len(header):
                raise ScoringError(
                    f"{asset}: {source.name} line {reader.line_num} has {len(row)} values; its header has {len(header)}"
                )
            raw.append(row)
    if label_column not in header:
        raise ScoringError(
            f"{asset}: {source.name} has no column {label_column!r}{did_you_mean(label_column, header)}"
            f" (its columns: {_listing(header)})"
        )
    if not raw:
        raise ScoringError(f"{asset}: {source.name} has a header but no rows")
    at = header.index(label_column)
    values = list(zip(*raw, strict=True))
    label_values = values.pop(at)
    empty = next((i for i, v in enumerate(label_values) if not v.strip()), None)
    if empty is not None:
        raise ScoringError(f"{asset}: {source.name} row {empty + 1} has no {label_column} (an empty label)")
    columns = [_column(v) for v in values]
    return Table(
        asset=asset,
        columns=[c for i, c in enumerate(header) if i != at],
        rows=[list(r) for r in zip(*columns, strict=True)],
        label_column=label_column,
        labels=np.asarray(_labels(label_values)),
    )


def _listing(names: Sequence[str], most: int = 8) -> str:
    return ", ".join(names[:most]) + (f", ... ({len(names)} in all)" if len(names) > most else "")


def _column(values: tuple[str, ...]) -> list[Cell]:
    try:
        return [float(v) if v.strip() else None for v in values]
    except ValueError:
        return list(values)


def _labels(values: tuple[str, ...]) -> list[int] | list[float] | list[str]:
    for kind in (int, float):
        try:
            return [kind(v) for v in values]
        except ValueError:
            continue
    return list(values)


# -- request formats ------------------------------------------------------------------------------------
class RequestFormat:
    """How rows become a request body, and an answer becomes one prediction per row."""

    name = ""
    content_type = "application/json"

    def encode(self, columns: list[str], rows: list[list[Cell]]) -> bytes:
        raise NotImplementedError

    def decode(self, body: bytes, deployment: str, expected: int) -> list[Any]:
        return read_predictions(body, deployment, expected)


class DefaultFormat(RequestFormat):
    name = "default"

    def encode(self, columns: list[str], rows: list[list[Cell]]) -> bytes:
        return json.dumps({"data": rows}).encode()


class MlflowFormat(RequestFormat):
    name = "mlflow"

    def encode(self, columns: list[str], rows: list[list[Cell]]) -> bytes:
        return json.dumps({"input_data": {"columns": columns, "data": rows}}).encode()


class AdapterFormat(RequestFormat):
    """A function of the project builds the body; ``parse_<function>``, if the file has one, reads the answer.
    Both are called from one thread (``score``'s), never at once."""

    def __init__(self, name: str, build: Callable[..., Any], parse: Callable[..., Any] | None) -> None:
        self.name = name
        self.build = build
        self.parse = parse

    def encode(self, columns: list[str], rows: list[list[Cell]]) -> bytes:
        try:
            made = self.build(list(columns), rows)
        except Exception as exc:
            raise ScoringError(f"request adapter {self.name} raised {type(exc).__name__}: {exc}") from exc
        if isinstance(made, bytes):
            return made
        if isinstance(made, str):
            return made.encode()
        try:
            return json.dumps(made).encode()
        except (TypeError, ValueError) as exc:
            raise ScoringError(
                f"request adapter {self.name} returned a {type(made).__name__} that is not bytes, text or"
                f" JSON-able ({exc})"
            ) from exc

    def decode(self, body: bytes, deployment: str, expected: int) -> list[Any]:
        if self.parse is None:
            return read_predictions(body, deployment, expected)
        try:
            found = self.parse(body)
        except Exception as exc:
            why = f"parse function of {self.name} raised {type(exc).__name__}: {exc}"
            raise unreadable(deployment, body, why) from exc
        if isinstance(found, str | bytes | dict) or not hasattr(found, "__len__"):
            raise unreadable(
                deployment, body, f"parse function of {self.name} returned a {type(found).__name__}, not a list"
            )
        return _checked(list(found), deployment, body, expected)


FORMATS: dict[str, type[RequestFormat]] = {"default": DefaultFormat, "mlflow": MlflowFormat}


def request_format(spec: Any, root: Path) -> RequestFormat:
    """The request format a policy names: ``"default"``, ``"mlflow"`` or ``{"adapter": "file.py:function"}``
    (``file.py`` relative to ``root``, the folder of mlplan.yaml). Loads an adapter's file."""
    if isinstance(spec, str) and spec in FORMATS:
        return FORMATS[spec]()
    if isinstance(spec, dict) and set(spec) == {"adapter"} and isinstance(spec["adapter"], str):
        return _adapter(spec["adapter"], root)
    hint = did_you_mean(spec, FORMATS) if isinstance(spec, str) else ""
    raise ScoringError(
        f"request format {spec!r} is not one mlplan knows{hint}: write default, mlflow,"
        " or {adapter: path/to/file.py:function}"
    )


def _adapter(ref: str, root: Path) -> AdapterFormat:
    file_text, _, function = ref.rpartition(":")
    if not file_text.endswith(".py") or not function.isidentifier():
        raise ScoringError(f"request adapter {ref!r}: write it as path/to/file.py:function (relative to mlplan.yaml)")
    path = root / file_text
    if not path.is_file():
        raise ScoringError(f"request adapter {ref!r}: {file_text} not found in {root}")
    module = _load(path, ref)
    build = getattr(module, function, None)
    if not callable(build):
        defined = [n for n, v in vars(module).items() if inspect.isfunction(v) and not n.startswith("_")]
        raise ScoringError(
            f"request adapter {ref!r}: {file_text} defines no function {function}{did_you_mean(function, defined)}"
        )
    parse = getattr(module, f"parse_{function}", None)
    return AdapterFormat(ref, build, parse if callable(parse) else None)


def _load(path: Path, ref: str) -> ModuleType:
    """Load a project file as a module of its own (named after its path, so two adapters never collide)."""
    name = "mlplan_adapter_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ScoringError(f"request adapter {ref!r}: {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise ScoringError(f"request adapter {ref!r}: loading {path.name} raised {type(exc).__name__}: {exc}") from exc
    return module


# -- reading answers ------------------------------------------------------------------------------------
def unreadable(deployment: str, body: bytes, why: str) -> ScoringError:
    start = body[:SHOWN].decode("utf-8", errors="replace")
    more = "..." if len(body) > SHOWN else ""
    return ScoringError(
        f"deployment {deployment!r} answered what mlplan cannot read as predictions: {why}; the answer: {start}{more}"
    )


def read_predictions(body: bytes, deployment: str, expected: int) -> list[Any]:
    """One prediction per row from a JSON answer (the shapes in the module's docstring)."""
    try:
        value = json.loads(body)
        if isinstance(value, str):  # run() returned json.dumps(...), and the server encoded that string again
            value = json.loads(value)
    except ValueError:
        raise unreadable(deployment, body, "it is not JSON") from None
    if isinstance(value, dict):
        if "predictions" not in value:
            keys = ", ".join(map(str, list(value)[:5]))
            raise unreadable(deployment, body, f'an object without "predictions" (its keys: {keys})')
        value = value["predictions"]
    if not isinstance(value, list):
        raise unreadable(deployment, body, 'expected a JSON list of predictions or {"predictions": [...]}')
    return _checked([_one(v) for v in value], deployment, body, expected)


def _one(value: Any) -> Any:
    """A one-element list or object holds the prediction (MLflow's shapes for a one-column result)."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value


def _checked(found: list[Any], deployment: str, body: bytes, expected: int) -> list[Any]:
    if len(found) != expected:
        raise unreadable(deployment, body, f"{len(found)} predictions for {expected} rows")
    for i, value in enumerate(found):
        if not isinstance(value, int | float | str | bool):
            what = f"a list of {len(value)} values" if isinstance(value, list) else type(value).__name__
            shape = f"an object with {len(value)} keys" if isinstance(value, dict) else what
            raise unreadable(deployment, body, f"prediction {i + 1} is {shape}, not one value")
    return found


# -- scoring --------------------------------------------------------------------------------------------
def capacity(deployment: Mapping[str, Any]) -> int:
    """How many scoring requests a deployment takes at once, as its file declares it (``instance_count`` times
    ``request_settings.max_concurrent_requests_per_instance``, Azure's defaults 1 and 1), at most
    ``DEFAULT_CONCURRENCY``: an evaluation never sends a serving champion more than it is sized for."""
    settings = deployment.get("request_settings")
    per_instance = settings.get("max_concurrent_requests_per_instance") if isinstance(settings, Mapping) else None
    try:
        total = int(deployment.get("instance_count") or 1) * int(per_instance or AZURE_CONCURRENT_PER_INSTANCE)
    except (TypeError, ValueError):
        total = 1
    return max(1, min(DEFAULT_CONCURRENCY, total))


def score(
    invoke: Invoke,
    deployment: str,
    table: Table,
    fmt: RequestFormat,
    batch_size: int = DEFAULT_BATCH_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> np.ndarray:
    """The predictions of ``deployment`` for every row of ``table``, in row order.

    Batches of ``batch_size`` rows, at most ``concurrency`` requests in flight. Bodies are built and
    answers read on the calling thread (where ``progress(rows_done, total)`` is called too); the workers
    only wait for ``invoke``. The first failure stops the rest: nothing more is sent, requests in flight
    finish, and its error is raised. ``cancelled()`` is checked before each batch (``Cancelled``)."""
    import numpy as np

    if batch_size < 1 or concurrency < 1:
        raise ScoringError(f"batch_size and concurrency must be at least 1 (got {batch_size} and {concurrency})")
    total = len(table.rows)
    batches = iter(range(0, total, batch_size))
    results: dict[int, list[Any]] = {}
    done = 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="mlplan-score") as pool:
        pending: dict[Future[bytes], tuple[int, int]] = {}  # request -> (first row, rows)
        while True:
            while len(pending) < concurrency and (start := next(batches, None)) is not None:
                if cancelled is not None and cancelled():
                    raise Cancelled(f"cancelled while scoring deployment {deployment!r} ({done} of {total} rows)")
                rows = table.rows[start : start + batch_size]
                body = fmt.encode(table.columns, rows)
                pending[pool.submit(invoke, deployment, body, fmt.content_type)] = (start, len(rows))
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: pending[f][0]):
                start, count = pending.pop(future)
                results[start] = fmt.decode(future.result(), deployment, count)
                done += count
                if progress is not None:
                    progress(done, total)
    return np.asarray([p for start in sorted(results) for p in results[start]])
