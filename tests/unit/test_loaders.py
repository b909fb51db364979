"""`mlplan validate`'s azure-ai-ml loader check: the SDK's marshmallow errors (escaped JSON inside prose, sometimes
wrapped twice) become one problem per field, at that field's path, in whole sentences."""

from __future__ import annotations

import json

from mlplan.providers.azure.loaders import translate

ADVICE = (
    "\n\n If you are trying to configure a job that is not of type command, please specify the correct job type in"
    " the 'type' property.\n\nVisit this link to refer to the CommandJob schema if needed:"
    " https://aka.ms/ml-cli-v2-job-command-yaml-reference.\nThe easiest way to author a specification file is using"
    " IntelliSense and auto-completion Azure ML VS code extension provides."
)


def _failed(schema: str, errors: dict[str, object]) -> str:
    return f"Validation for {schema} failed:\n\n {json.dumps(errors, indent=2)} {ADVICE}"


def test_each_field_of_a_marshmallow_error_is_its_own_problem_at_its_path() -> None:
    text = _failed(
        "AmlComputeSchema",
        {
            "min_instances": ["Not a valid integer."],
            "max_instance": ["Unknown field."],
            "ssh_settings": {"x": ["Unknown field."]},
        },
    )
    found = {p.path: p.message for p in translate("compute", text)}
    assert found == {
        ("min_instances",): "min_instances: azure-ai-ml says: Not a valid integer.",
        ("max_instance",): "max_instance: azure-ai-ml says: Unknown field.",
        ("ssh_settings", "x"): "ssh_settings.x: azure-ai-ml says: Unknown field.",
    }


def test_the_sdk_s_wrapper_around_the_real_error_is_unwrapped() -> None:
    inner = _failed(
        "CommandJobSchema",
        {"environment": ["Missing data for required field."], "limits": {"timeout": ["Not a valid integer."]}},
    )
    wrapper = {"result": "Failed", "errors": [{"message": inner, "path": "*", "value": None, "location": "/p/job.yml"}]}
    text = f"Validation for CommandSchema failed:\n\n {json.dumps(wrapper, indent=2)} {ADVICE}"
    problems = translate("job", text)
    assert [p.path for p in problems] == [("environment",), ("limits", "timeout")]
    assert problems[0].message == "environment: azure-ai-ml says: Missing data for required field."
    assert all(p.hint for p in problems)


def test_a_union_field_lists_what_each_form_said_in_whole_sentences() -> None:
    long = "In order to specify an existing environments, please provide either of the following prefixed with " + (
        "'azureml:':\n1. The full ARM ID for the resource.\n2. The short-hand name of the resource. " * 4
    )
    text = _failed("CommandJobSchema", {"environment": [["Environment schema data cannot be a string"], [long]]})
    [problem] = translate("job", text)
    assert problem.path == ("environment",)
    assert "\n" not in problem.message
    assert problem.message.endswith("The short-hand name of the resource.")  # never cut mid-sentence
    assert "Environment schema data cannot be a string / In order to specify" in problem.message


def test_a_dict_entry_s_errors_are_the_entry_s() -> None:
    text = _failed("CommandJobSchema", {"inputs": {"iris": {"value": ["Not a valid mapping type."]}}})
    [problem] = translate("job", text)
    assert problem.path == ("inputs", "iris")


def test_an_error_that_names_no_field_is_kept_whole() -> None:
    [problem] = translate("environment", "Docker image or Dockerfile should be provided not both")
    assert problem.path == ()
    assert (
        problem.message
        == "azure-ai-ml refuses this environment: Docker image or Dockerfile should be provided not both"
    )
