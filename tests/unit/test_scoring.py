"""Scoring an evaluation set (engine/scoring.py): reading the table, request formats, batches in parallel."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from mlplan.core.errors import ProviderError, ScoringError
from mlplan.engine import scoring
from mlplan.engine.scoring import Table, read_predictions, read_table, request_format, score
from mlplan.providers.base import Cancelled

ASSET = "data asset cancer-eval:1"


def csv_file(tmp_path: Path, text: str, name: str = "eval.csv") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# -- the table ------------------------------------------------------------------------------------------
def test_a_csv_is_read_into_feature_columns_rows_and_labels(tmp_path: Path) -> None:
    table = read_table(csv_file(tmp_path, "a,target,b\n1,0,2.5\n3,1,4\n"), "target", ASSET)
    assert table.columns == ["a", "b"]
    assert table.rows == [[1.0, 2.5], [3.0, 4.0]]
    assert table.labels.tolist() == [0, 1] and table.labels.dtype.kind == "i"
    assert (table.label_column, table.asset, len(table)) == ("target", ASSET, 2)


def test_a_column_that_is_not_all_numbers_stays_text_and_an_empty_number_is_null(tmp_path: Path) -> None:
    table = read_table(csv_file(tmp_path, "colour,size,label\nred,1,yes\nblue,,no\n"), "label", ASSET)
    assert table.rows == [["red", 1.0], ["blue", None]]
    assert table.labels.tolist() == ["yes", "no"]


def test_labels_are_numbers_when_all_of_them_are(tmp_path: Path) -> None:
    table = read_table(csv_file(tmp_path, "x,y\n1,0.5\n2,1\n"), "y", ASSET)
    assert table.labels.tolist() == [0.5, 1.0]


def test_the_quickstart_eval_set_is_read_with_target_as_the_label() -> None:
    path = Path(__file__).resolve().parents[2] / "examples/quickstart/data/eval.csv"
    table = read_table(path, "target", ASSET)
    assert len(table) == 171 and len(table.columns) == 30 and "target" not in table.columns
    assert set(table.labels.tolist()) == {0, 1}


def test_a_missing_label_column_says_which_columns_exist_and_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ScoringError) as err:
        read_table(csv_file(tmp_path, "mean_radius,target\n1,0\n"), "targt", ASSET)
    assert str(err.value) == (
        "data asset cancer-eval:1: eval.csv has no column 'targt'; did you mean 'target'?"
        " (its columns: mean_radius, target)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "eval.csv is empty (no header line)"),
        ("a,target\n", "eval.csv has a header but no rows"),
        ("a,target\n1,0\n2\n", "eval.csv line 3 has 1 values; its header has 2"),
        ("a,target\n1,0\n2, \n", "eval.csv row 2 has no target (an empty label)"),
    ],
)
def test_a_table_mlplan_cannot_read_is_an_error_naming_the_asset(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScoringError, match=r"^data asset cancer-eval:1: ") as err:
        read_table(csv_file(tmp_path, text), "target", ASSET)
    assert message in str(err.value)


def test_a_folder_with_exactly_one_csv_is_read(tmp_path: Path) -> None:
    csv_file(tmp_path / "folder", "a,target\n1,0\n", "part/eval.csv")
    (tmp_path / "folder" / "README.md").write_text("not data")
    (tmp_path / "folder" / ".hidden.csv").write_text("x\n")
    assert read_table(tmp_path / "folder", "target", ASSET).rows == [[1.0]]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"eval.parquet": "PAR1"}, "eval.parquet is not a .csv file"),
        ({"folder/a.csv": "a\n", "folder/b.csv": "a\n"}, "the folder holds 2 .csv files (a.csv, b.csv)"),
        ({"folder/notes.txt": "x"}, "the folder holds no .csv file"),
        ({"folder/MLTable": "paths: []", "folder/a.csv": "a\n"}, "an MLTable is not read"),
    ],
)
def test_files_that_are_not_one_csv_are_refused_naming_the_asset(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    for rel, text in files.items():
        csv_file(tmp_path, text, rel)
    target = tmp_path / next(iter(files)).split("/")[0]
    with pytest.raises(ScoringError) as err:
        read_table(target, "target", ASSET)
    assert str(err.value).startswith(ASSET + ": ") and message in str(err.value)
    assert "a uri_file .csv, or a uri_folder holding exactly one .csv" in str(err.value)


# -- request formats ------------------------------------------------------------------------------------
def test_the_default_and_mlflow_bodies() -> None:
    rows: list[list[scoring.Cell]] = [[1.0, "a"], [2.0, None]]
    assert json.loads(request_format("default", Path()).encode(["x", "y"], rows)) == {"data": rows}
    assert json.loads(request_format("mlflow", Path()).encode(["x", "y"], rows)) == {
        "input_data": {"columns": ["x", "y"], "data": rows}
    }


@pytest.mark.parametrize(
    "answer",
    [
        [1, 0, 1],
        {"predictions": [1, 0, 1]},
        {"predictions": [1, 0, 1], "model_version": "3"},
        [[1], [0], [1]],  # MLflow: a 2-D array of one column
        [{"0": 1}, {"0": 0}, {"0": 1}],  # MLflow: a one-column DataFrame as records
        json.dumps({"predictions": [1, 0, 1]}),  # run() returned json.dumps(...): encoded twice
    ],
)
def test_the_answer_shapes_mlplan_reads(answer: object) -> None:
    assert read_predictions(json.dumps(answer).encode(), "blue", 3) == [1, 0, 1]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"<html>Bad Gateway</html>", "it is not JSON"),
        (json.dumps("garbage").encode(), "it is not JSON"),
        (b'{"result": [1, 0]}', 'an object without "predictions" (its keys: result)'),
        (b'"[1, 0]"', "2 predictions for 3 rows"),
        (b"42", 'expected a JSON list of predictions or {"predictions": [...]}'),
        (b"[[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]", "prediction 1 is a list of 2 values, not one value"),
        (b'[{"a": 1, "b": 2}, 1, 1]', "prediction 1 is an object with 2 keys, not one value"),
    ],
)
def test_an_answer_mlplan_cannot_read_names_the_deployment_and_shows_its_start(body: bytes, why: str) -> None:
    with pytest.raises(ScoringError) as err:
        read_predictions(body, "green", 3)
    assert str(err.value) == (
        f"deployment 'green' answered what mlplan cannot read as predictions: {why}; the answer: {body.decode()}"
    )


def test_a_long_unreadable_answer_is_cut_to_its_first_200_characters() -> None:
    body = b"x" * 1000
    with pytest.raises(ScoringError) as err:
        read_predictions(body, "green", 3)
    assert str(err.value).endswith("the answer: " + "x" * 200 + "...")


def test_an_unknown_request_format_suggests_the_closest() -> None:
    with pytest.raises(ScoringError, match=r"request format 'mlfow' is not one mlplan knows; did you mean 'mlflow'\?"):
        request_format("mlfow", Path())
    with pytest.raises(ScoringError, match=r"write default, mlflow, or \{adapter: path/to/file.py:function\}"):
        request_format({"adaptor": "x.py:f"}, Path())


ADAPTER = """
import json

def to_records(columns, rows):
    return {"instances": [dict(zip(columns, row)) for row in rows]}

def parse_to_records(body):
    return [int(p["label"]) for p in json.loads(body)["outputs"]]

def as_text(columns, rows):
    return "\\n".join(",".join(str(v) for v in row) for row in rows)

def broken(columns, rows):
    raise KeyError("id")
"""


def test_an_adapter_builds_the_body_and_its_parse_function_reads_the_answer(tmp_path: Path) -> None:
    (tmp_path / "scoring").mkdir()
    (tmp_path / "scoring" / "adapter.py").write_text(ADAPTER)
    fmt = request_format({"adapter": "scoring/adapter.py:to_records"}, tmp_path)
    assert json.loads(fmt.encode(["x"], [[1.0], [2.0]])) == {"instances": [{"x": 1.0}, {"x": 2.0}]}
    assert fmt.decode(b'{"outputs": [{"label": "1"}, {"label": "0"}]}', "blue", 2) == [1, 0]
    with pytest.raises(ScoringError, match=r"parse function of scoring/adapter.py:to_records raised KeyError"):
        fmt.decode(b'{"predictions": [1, 0]}', "blue", 2)
    text = request_format({"adapter": "scoring/adapter.py:as_text"}, tmp_path)
    assert text.encode(["x", "y"], [[1.0, "a"]]) == b"1.0,a"
    assert text.decode(b"[1]", "blue", 1) == [1]  # no parse_as_text: read as the default format is


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("scoring/adapter.py", "write it as path/to/file.py:function (relative to mlplan.yaml)"),
        ("scoring/missing.py:f", "scoring/missing.py not found in"),
        ("scoring/adapter.py:to_record", "defines no function to_record; did you mean 'to_records'?"),
    ],
)
def test_an_adapter_that_cannot_be_loaded_says_why(tmp_path: Path, ref: str, message: str) -> None:
    (tmp_path / "scoring").mkdir()
    (tmp_path / "scoring" / "adapter.py").write_text(ADAPTER)
    with pytest.raises(ScoringError) as err:
        request_format({"adapter": ref}, tmp_path)
    assert str(err.value).startswith(f"request adapter {ref!r}: ") and message in str(err.value)


def test_an_adapter_that_fails_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "adapter.py").write_text(ADAPTER)
    fmt = request_format({"adapter": "adapter.py:broken"}, tmp_path)
    with pytest.raises(ScoringError, match=r"^request adapter adapter.py:broken raised KeyError: 'id'$"):
        fmt.encode(["x"], [[1.0]])
    (tmp_path / "bad.py").write_text("import no_such_module_anywhere\n")
    with pytest.raises(ScoringError, match=r"loading bad.py raised ModuleNotFoundError"):
        request_format({"adapter": "bad.py:f"}, tmp_path)


# -- scoring in batches ---------------------------------------------------------------------------------
def table_of(n: int) -> Table:
    return Table(ASSET, ["x"], [[float(i)] for i in range(n)], "y", np.zeros(n, dtype=int))


class Echo:
    """A fake ``invoke``: each prediction is its row's x as an int; records every body it was sent."""

    def __init__(self, fail_at: int | None = None, barrier: threading.Barrier | None = None) -> None:
        self.bodies: list[list[list[float]]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.fail_at = fail_at
        self.barrier = barrier

    def __call__(self, deployment: str, body: bytes, content_type: str) -> bytes:
        rows = json.loads(body)["data"]
        assert (deployment, content_type) == ("blue", "application/json")
        with self.lock:
            self.bodies.append(rows)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.barrier is not None:
                self.barrier.wait(timeout=10)  # only passes when that many requests are in flight at once
            if self.fail_at is not None and rows[0][0] == self.fail_at:
                raise ProviderError(f"endpoint 'cancer', deployment 'blue': HTTP 500 at row {self.fail_at}")
            return json.dumps({"predictions": [int(r[0]) for r in rows]}).encode()
        finally:
            with self.lock:
                self.in_flight -= 1


class LastFirst(Echo):
    """The first batch answers only once the last one has: answers arrive out of order."""

    def __init__(self, last: int) -> None:
        super().__init__()
        self.last = last
        self.last_done = threading.Event()

    def __call__(self, deployment: str, body: bytes, content_type: str) -> bytes:
        first = json.loads(body)["data"][0][0]
        if first == 0:
            assert self.last_done.wait(timeout=10)
        answer = super().__call__(deployment, body, content_type)
        if first == self.last:
            self.last_done.set()
        return answer


def test_batches_keep_the_row_order_and_report_progress() -> None:
    echo = LastFirst(last=200)
    seen: list[tuple[int, int]] = []
    out = score(
        echo, "blue", table_of(250), scoring.DefaultFormat(), batch_size=100, progress=lambda d, t: seen.append((d, t))
    )
    assert out.tolist() == list(range(250)) and out.dtype.kind == "i"
    assert sorted(len(b) for b in echo.bodies) == [50, 100, 100]
    assert [d for d, _t in seen] == sorted(d for d, _t in seen) and seen[-1] == (250, 250)
    assert {t for _d, t in seen} == {250} and len(seen) == 3


def test_requests_run_concurrently_and_never_more_than_the_bound() -> None:
    echo = Echo(barrier=threading.Barrier(3))
    out = score(echo, "blue", table_of(60), scoring.DefaultFormat(), batch_size=10, concurrency=3)
    assert out.tolist() == list(range(60))
    assert echo.most_in_flight == 3  # the barrier let 3 through at a time: they were in flight together


def test_the_first_failure_stops_the_rest() -> None:
    echo = Echo(fail_at=20)
    with pytest.raises(ProviderError, match="HTTP 500 at row 20"):
        score(echo, "blue", table_of(100), scoring.DefaultFormat(), batch_size=10, concurrency=1)
    assert [b[0][0] for b in echo.bodies] == [0, 10, 20]  # nothing sent after the failure
    echo = Echo(fail_at=20)
    with pytest.raises(ProviderError):
        score(echo, "blue", table_of(1000), scoring.DefaultFormat(), batch_size=10, concurrency=4)
    assert len(echo.bodies) < 100


def test_an_unreadable_answer_stops_scoring_naming_the_deployment() -> None:
    def invoke(deployment: str, body: bytes, content_type: str) -> bytes:
        return b"[1]"

    with pytest.raises(ScoringError, match=r"deployment 'blue' answered .*: 1 predictions for 10 rows"):
        score(invoke, "blue", table_of(30), scoring.DefaultFormat(), batch_size=10)


def test_cancellation_is_checked_between_batches() -> None:
    echo = Echo()
    stop = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 20:
            stop.set()

    with pytest.raises(Cancelled, match=r"cancelled while scoring deployment 'blue' \(20 of 100 rows\)"):
        score(echo, "blue", table_of(100), scoring.DefaultFormat(), 10, 1, progress, stop.is_set)
    assert len(echo.bodies) == 2


def test_a_batch_size_or_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ScoringError, match="at least 1"):
        score(Echo(), "blue", table_of(3), scoring.DefaultFormat(), batch_size=0)


@pytest.mark.parametrize(
    ("deployment", "expected"),
    [
        ({}, 1),  # Azure's defaults: one instance, one request at a time (more answer 429)
        ({"instance_count": 3}, 3),
        ({"instance_count": 2, "request_settings": {"max_concurrent_requests_per_instance": 2}}, 4),
        ({"instance_count": 10, "request_settings": {"max_concurrent_requests_per_instance": 5}}, 4),  # capped
        ({"instance_count": "${var.n}"}, 1),  # not a number (a value the provider check refuses anyway)
    ],
)
def test_an_evaluation_sends_a_deployment_no_more_requests_at_once_than_it_is_sized_for(
    deployment: dict[str, object], expected: int
) -> None:
    assert scoring.capacity(deployment) == expected
