"""Command jobs on the local provider: bindings, logs, failures, timeouts, metrics, compute slots, retraining."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_mlplan, write

COMPUTE = """
$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
name: cpu
type: amlcompute
max_instances: {slots}
"""


def job(name: str, command: str, extra: str = "") -> str:
    return f"""
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
name: {name}
code: ./src
command: >-
  {command}
compute: azureml:cpu
environment:
  image: python:3.11
{extra}
"""


def project(root: Path, jobs: dict[str, str], slots: int = 1) -> Path:
    write(
        root,
        {
            "mlplan.yaml": 'project: jobs\nresources: ["res/*.yml"]\n',
            "res/cpu.yml": COMPUTE.format(slots=slots),
            "res/data.yml": """
                $schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
                name: numbers
                type: uri_file
                path: ../files/numbers.txt
                """,
            "files/numbers.txt": "1\n2\n3\n",
            "res/src/work.py": """
                import json, os, sys, time
                out = sys.argv[1]
                start = time.time()
                time.sleep(float(sys.argv[2]))
                json.dump({"start": start, "end": time.time()}, open(os.path.join(out, "times.json"), "w"))
                """,
            **{f"res/{name}.yml": text for name, text in jobs.items()},
        },
    )
    return root


def run_dir(root: Path, name: str) -> Path:
    state = json.loads(run_mlplan("-C", str(root), "state", "pull").out)
    run = state["resources"][f"job.{name}"]["outputs"]["run"]
    return root / ".mlplan/local-workspace/jobs" / run


def test_bindings_logs_and_metrics(tmp_path: Path) -> None:
    root = project(
        tmp_path / "p",
        {
            "bind": job(
                "bind",
                "python -c \"import json,os,sys; print('hello', sys.argv[1:], os.environ['GREETING']);"
                " open(os.path.join(sys.argv[3], 'metrics.json'), 'w').write(json.dumps({'accuracy': 0.9}));"
                " open(os.path.join(sys.argv[3], 'copy.txt'), 'w').write(open(sys.argv[2]).read())\""
                " ${{inputs.word}} ${{inputs.numbers}} ${{outputs.result}}",
                """
inputs:
  word: bonjour
  numbers:
    type: uri_file
    path: azureml:numbers@latest
outputs:
  result:
    type: uri_folder
environment_variables:
  GREETING: salut
""",
            )
        },
    )
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "[job.bind] hello ['bonjour'," in r.err and "salut" in r.err
    assert "log: " in r.err
    folder = run_dir(root, "bind")
    assert (folder / "outputs/result/copy.txt").read_text() == "1\n2\n3\n"
    assert "hello" in (folder / "user_logs/std_log.txt").read_text()
    state = json.loads(run_mlplan("-C", str(root), "state", "pull").out)
    assert state["resources"]["job.bind"]["outputs"]["metrics"] == {"accuracy": 0.9}
    assert state["resources"]["job.bind"]["id"].startswith("jobs/bind-")
    assert run_mlplan("-C", str(root), "plan", "--detailed-exitcode").code == 0


def test_failing_job_fails_the_apply_with_its_exit_code_and_log_tail(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"bad": job("bad", "python -c \"print('about to fail'); raise SystemExit(3)\"")})
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 1, r.text
    assert "exit code 3" in r.text and "about to fail" in r.text and "std_log.txt" in r.text
    assert "Traceback" not in r.out
    assert r.err.count("about to fail") == 3, "streamed once; the error (progress line and summary) names it"
    state = json.loads(run_mlplan("-C", str(root), "state", "pull").out)
    assert "job.bad" not in state["resources"] and state["pending"] == {}
    plan = json.loads(run_mlplan("-C", str(root), "plan", "--json").out)
    bad = {c["address"]: c for c in plan["changes"]}["job.bad"]
    assert bad["action"] == "train"
    assert bad["reason"].startswith("last attempt failed: job run bad-") and "exit code 3" in bad["reason"]
    assert "it printed last: about to fail" in bad["reason"]


def test_timeout_is_honoured(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"slow": job("slow", "python work.py . 30", "limits:\n  timeout: 1\n")})
    r = run_mlplan("-C", str(root), "apply", "--auto-approve", timeout=60)
    assert r.code == 1 and "limits.timeout" in r.text, r.text


def test_unknown_binding_is_refused_at_plan_time(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"typo": job("typo", "echo ${{inputs.nope}}")})
    r = run_mlplan("-C", str(root), "plan")
    assert r.code == 1
    assert "res/typo.yml:4" in r.err and "inputs has no 'nope'" in r.err


@pytest.mark.slow
@pytest.mark.parametrize(("slots", "overlap"), [(1, False), (2, True)])
def test_compute_max_instances_bounds_concurrent_jobs(tmp_path: Path, slots: int, overlap: bool) -> None:
    out = "outputs:\n  result:\n    type: uri_folder\n"
    jobs = {n: job(n, "python work.py ${{outputs.result}} 1.0", out) for n in ("a", "b")}
    root = project(tmp_path / "p", jobs, slots=slots)
    r = run_mlplan("-C", str(root), "apply", "--auto-approve", "--parallelism", "4")
    assert r.code == 0, r.text
    a = json.loads((run_dir(root, "a") / "outputs/result/times.json").read_text())
    b = json.loads((run_dir(root, "b") / "outputs/result/times.json").read_text())
    overlapped = a["start"] < b["end"] and b["start"] < a["end"]
    assert overlapped is overlap, (a, b)


def test_only_inputs_retrain(tmp_path: Path) -> None:
    out = "inputs:\n  numbers:\n    type: uri_file\n    path: azureml:numbers@latest\n"
    root = project(tmp_path / "p", {"t": job("t", "cat ${{inputs.numbers}}", out)})
    assert run_mlplan("-C", str(root), "apply", "--auto-approve").code == 0
    # a bigger cluster is not a reason to train again
    (root / "res/cpu.yml").write_text(COMPUTE.format(slots=3))
    plan = json.loads(run_mlplan("-C", str(root), "plan", "--json").out)
    actions = {c["address"]: c for c in plan["changes"]}
    assert actions["compute.cpu"]["action"] == "update" and actions["job.t"]["action"] == "no_op"
    assert run_mlplan("-C", str(root), "apply", "--auto-approve").code == 0
    # new data is
    (root / "files/numbers.txt").write_text("4\n")
    plan = json.loads(run_mlplan("-C", str(root), "plan", "--json").out)
    actions = {c["address"]: c for c in plan["changes"]}
    assert actions["data.numbers"]["action"] == "new_version"
    assert actions["job.t"]["action"] == "train"
    assert "numbers" in actions["job.t"]["reason"]
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert "[job.t] 4" in r.err


@pytest.mark.slow
def test_a_run_orphaned_by_a_killed_mlplan_is_stopped_and_forgotten(tmp_path: Path) -> None:
    import subprocess
    import time

    from tests.conftest import MLPLAN
    from tests.processes import alive

    out = "outputs:\n  result:\n    type: uri_folder\n"
    root = project(tmp_path / "p", {"long": job("long", "python work.py ${{outputs.result}} 30", out)})
    proc = subprocess.Popen(
        [MLPLAN, "-C", str(root), "apply", "--auto-approve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    jobs = root / ".mlplan/local-workspace/jobs"
    deadline = time.monotonic() + 30
    pid = None
    while pid is None:
        assert time.monotonic() < deadline, "the job never started"
        for record in jobs.glob("*/job.json"):
            pid = json.loads(record.read_text()).get("pid")
        time.sleep(0.05)
    proc.kill()  # mlplan dies; its job runs on in its own session
    proc.wait()
    assert alive(pid)
    # next time the job is quick: the orphan must not keep writing into an abandoned run
    (root / "res/long.yml").write_text(job("long", "python work.py ${{outputs.result}} 0", out))
    r = run_mlplan("-C", str(root), "apply", "--auto-approve")
    assert r.code == 0, r.text
    assert not alive(pid)
    assert [p.name for p in jobs.iterdir()] == [run_dir(root, "long").name]


def test_a_run_whose_mlplan_died_before_its_record_is_stopped_and_removed(tmp_path: Path) -> None:
    """mlplan killed between creating a run's folder (maybe starting it) and writing job.json."""
    import subprocess

    from mlplan.providers.base import Context
    from mlplan.providers.local.jobs import JobType, run_name
    from tests.processes import alive

    ctx = Context("p", "local", tmp_path, {})
    code = tmp_path / ".mlplan/local-workspace/jobs" / run_name("train", "op1") / "code"
    code.mkdir(parents=True)
    orphan = subprocess.Popen(["sleep", "60"], cwd=code, start_new_session=True)
    try:
        JobType().discard(ctx, "train", "op1")
        assert orphan.wait(timeout=5) == -9  # stopped, though no record named its pid
        assert not code.parent.exists()
        assert not alive(orphan.pid)
    finally:
        orphan.kill()
