"""Secrets never appear in plan output, plan files, state or logs; only --show-sensitive prints them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_mlplan, write

SECRET = "s3cr3t-Pa55w0rd-xyz"
PASSWORD = "Adm1n-Pa55-qwerty"


def test_secrets_stay_out_of_plans_state_and_output(project: Path) -> None:
    write(
        project,
        {
            "mlplan.yaml": """
            project: demo
            resources: ["res/*.yml"]
            variables:
              slots: {default: 2, type: number}
              token: {type: string, sensitive: true}
            outputs:
              token_out: {value: "${var.token}"}
              cluster: {value: "${compute.cpu.id}"}
            """,
            "res/compute.yml": f"""
            $schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json
            name: cpu
            type: amlcompute
            description: "uses ${{var.token}}"
            max_instances: ${{var.slots}}
            ssh_public_access_enabled: true
            ssh_settings:
              admin_username: azureuser
              admin_password: {PASSWORD}
            """,
        },
    )
    var = ("--var", f"token={SECRET}")
    plan = run_mlplan("-C", str(project), "plan", *var, "--out", str(project / "plan.json"))
    assert plan.code == 0, plan.text
    assert "(sensitive" in plan.out
    apply = run_mlplan("-C", str(project), "apply", *var, str(project / "plan.json"))
    assert apply.code == 0, apply.text
    replan = run_mlplan("-C", str(project), "plan", *var, "--detailed-exitcode", "--json")
    assert replan.code == 0, replan.text  # hashed secrets compare equal: no perpetual diff
    changed = run_mlplan("-C", str(project), "plan", "--var", "token=another-secret-value", "--json")
    assert changed.code == 0, changed.text
    compute = {c["address"]: c for c in json.loads(changed.out)["changes"]}["compute.cpu"]
    assert compute["action"] == "update", compute
    out = run_mlplan("-C", str(project), "output", *var, "--json")
    hidden = json.loads(out.out)["outputs"]
    assert hidden["token_out"] == "(sensitive)"
    shown = run_mlplan("-C", str(project), "output", *var, "--json", "--show-sensitive")
    assert json.loads(shown.out)["outputs"]["token_out"] == SECRET
    everything = plan.text + apply.text + replan.text + changed.text + out.text
    everything += (project / "plan.json").read_text()
    for state_command in (("state", "pull"), ("state", "show", "compute.cpu", "--json")):
        r = run_mlplan("-C", str(project), *state_command)
        assert r.code == 0 and "cpu" in r.out, r.text  # read, not an error about the missing variable
        everything += r.text
    for f in (project / ".mlplan/state").iterdir():
        everything += f.read_text()
    everything += (project / ".mlplan/local-workspace/computes/cpu.json").read_text()
    assert PASSWORD not in everything
    # the workspace keeps what the user put in a description, like Azure would; state and output do not
    assert SECRET not in everything.replace((project / ".mlplan/local-workspace/computes/cpu.json").read_text(), "")
    # what is kept is a slow hash salted with the project: no fast (cheap to guess) hash of either
    import hashlib

    for value in (SECRET, PASSWORD):
        assert hashlib.sha256(value.encode()).hexdigest()[:10] not in everything


def test_a_job_that_prints_a_secret_does_not_leak_it(tmp_path: Path) -> None:
    """A job's streamed output and a failed job's log tail are scrubbed like everything else."""
    root = tmp_path / "p"
    job = """
        $schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
        name: leaky
        code: ./src
        command: python leak.py {code}
        environment: {{image: "python:3.11"}}
        environment_variables:
          TOKEN: ${{var.token}}
        """
    write(
        root,
        {
            "mlplan.yaml": """
            project: leaky
            resources: ["res/*.yml"]
            variables:
              token: {type: string, sensitive: true}
            """,
            "res/job.yml": job.format(code=3),
            "res/src/leak.py": """
            import os, sys
            print("the token is", os.environ["TOKEN"])
            sys.exit(int(sys.argv[1]))
            """,
        },
    )
    var = ("--var", f"token={SECRET}")
    failed = run_mlplan("-C", str(root), "apply", "--auto-approve", *var)
    assert failed.code == 1, failed.text
    assert "exit code 3" in failed.text and "the token is (sensitive:" in failed.text
    write(root, {"res/job.yml": job.format(code=0)})
    ok = run_mlplan("-C", str(root), "apply", "--auto-approve", *var)
    assert ok.code == 0, ok.text
    assert "[job.leaky] the token is (sensitive:" in ok.err
    kept = failed.text + ok.text + "".join(f.read_text() for f in (root / ".mlplan/state").iterdir())
    assert SECRET not in kept
