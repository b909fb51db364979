"""What an environment's conda file asks for that the interpreter running local work lacks."""

from __future__ import annotations

import sys

from mlplan.providers.local.packages import install_hint, unmet, wanted


def test_the_requirements_of_a_conda_file() -> None:
    conda = {
        "dependencies": [
            "python=3.11",
            "pip",
            "conda-forge::numpy=1.26",
            {"pip": ["scikit-learn>=1.3", "-r requirements.txt", "azureml-inference-server-http"]},
        ]
    }
    assert wanted(conda) == ["numpy", "scikit-learn>=1.3", "azureml-inference-server-http"]


def test_what_is_missing_or_another_version_is_named() -> None:
    missing = unmet(["pytest", "surely-not-installed-pkg==1.0", "pytest<1", "pytest; python_version < '3'"])
    assert missing[0] == "surely-not-installed-pkg==1.0"
    assert missing[1].startswith("pytest<1 (installed: ")
    assert len(missing) == 2, "an installed package, and one whose marker does not apply, are fine"


def test_the_hint_installs_into_the_interpreter_that_runs_local_work() -> None:
    hint = install_hint(["surely-not-installed-pkg==1.0", "pytest<1 (installed: 8.0)"])
    assert (
        hint
        == f"install them where mlplan runs: {sys.executable} -m pip install surely-not-installed-pkg==1.0 'pytest<1'"
    )
