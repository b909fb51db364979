"""What a failed local process died of, read from its log (providers/local/logs.py)."""

from __future__ import annotations

from pathlib import Path

from mlplan.providers.local.logs import failure_cause, last_lines

CODE = Path("/ws/endpoints/cancer/deployments/blue/1/code")

# the shape of a real azmlinfsrv log whose scoring script imports a missing package: an unrelated
# traceback first, then the user's error, then the server's own exception chained to it, then gunicorn
SERVER_LOG = f"""\
2026-11-30 05:31:36,548 E [20743] azmlinfsrv.trace - Error while fetching model IDs
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/azureml_inference_server_http/server/appinsights_client.py", line 230, in x
    model_ids = [int(v) for v in versions]
ValueError: invalid literal for int() with base 10: 'metrics.json'
2026-11-30 05:31:36,557 E [20743] azmlinfsrv - Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/azureml_inference_server_http/server/user_script.py", line 77, in load
    main_module_spec.loader.exec_module(user_module)
  File "<frozen importlib._bootstrap_external>", line 940, in exec_module
  File "{CODE}/score.py", line 3, in <module>
    import xgboost
ModuleNotFoundError: No module named 'xgboost'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/azureml_inference_server_http/server/aml_blueprint.py", line 91, in setup
    self.user_script.load_script(config.app_root)
azureml_inference_server_http.server.user_script.UserScriptImportException: Failed to import user script

2026-11-30 05:31:37,105 E [20741] gunicorn.error - Reason: Worker failed to boot.
""".splitlines()


def test_the_users_exception_is_the_cause_not_the_servers_nor_gunicorns() -> None:
    assert failure_cause(SERVER_LOG, CODE) == "ModuleNotFoundError: No module named 'xgboost' (score.py, line 3)"


def test_without_a_code_folder_the_innermost_frame_outside_libraries_is_named() -> None:
    job_log = [
        "epoch 1",
        "Traceback (most recent call last):",
        '  File "/runs/train-1/code/train.py", line 40, in <module>',
        "    main()",
        '  File "/runs/train-1/code/train.py", line 12, in main',
        "    raise ValueError('no rows in the training data')",
        "ValueError: no rows in the training data",
    ]
    assert failure_cause(job_log) == "ValueError: no rows in the training data (train.py, line 12)"


def test_an_exception_raised_only_in_libraries_is_still_named() -> None:
    lines = [
        "Traceback (most recent call last):",
        '  File "/venv/lib/python3.11/site-packages/pandas/io/parsers.py", line 10, in read_csv',
        "pandas.errors.EmptyDataError: No columns to parse from file",
    ]
    assert failure_cause(lines) == "pandas.errors.EmptyDataError: No columns to parse from file"


def test_a_log_without_a_python_traceback_has_no_cause_but_its_last_lines() -> None:
    lines = ["about to fail", "", "exit 3", ""]
    assert failure_cause(lines) is None
    assert last_lines(lines, 1) == ["exit 3"]
    assert last_lines(lines) == ["about to fail", "exit 3"]
