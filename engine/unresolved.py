"""Why a reference cannot be satisfied, said at plan time with the file and line of the reference: a data
source neither the project nor the workspace has (with the project's closest name), a version of a project's
asset that does not exist and that the project will never register, a job output of no job or run."""

from __future__ import annotations

import re

from mlplan.core import kinds
from mlplan.core.errors import Diagnostic
from mlplan.core.suggest import closest
from mlplan.engine.address import Address
from mlplan.engine.config import Config, ResourceSpec
from mlplan.engine.graph import Graph
from mlplan.engine.references import Reference
from mlplan.state.model import State


def missing_source(config: Config, graph: Graph, state: State, source: Address) -> Diagnostic:
    """The diagnostic for a data source refresh did not find."""
    ref = graph.data_sources[source]
    file, line, user = graph.source_where.get(source, (None, None, str(source)))
    own = config.resources.get(ref.target)
    if ref.output is not None:
        message, hint = _no_run(config, ref)
    elif own is not None and not ref.registry:
        message, hint = _never_registered(own, state, ref)
    else:
        message = f"{ref.raw} refers to {kinds.a(source.kind)} that neither this project nor the workspace has"
        hint = "create it, add it to the project, or fix the reference"
        close = None if ref.registry else closest(ref.target.name, _names(config, ref.target.kind))
        if close is not None:
            message += f"; did you mean {_renamed(ref, close)!r}?"
            defined = config.resources[Address(source.kind, close)]
            hint = f"fix the reference ({kinds.noun(source.kind)} {close} is defined in {defined.file}:{defined.line})"
    return Diagnostic(message, file=file, line=line, address=user, hint=hint)


def _names(config: Config, kind: str) -> list[str]:
    return [a.name for a in config.resources if a.kind == kind]


def _renamed(ref: Reference, name: str) -> str:
    """The reference as written, naming ``name`` instead."""
    pattern = rf"(?<=[:/]){re.escape(ref.target.name)}(?=$|[:@/])"
    return re.sub(pattern, lambda _m: name, ref.raw, count=1)


def _never_registered(own: ResourceSpec, state: State, ref: Reference) -> tuple[str, str]:
    """A version of an asset the project registers: neither in the workspace nor one it will register."""
    address, version = own.address, ref.version
    declared = own.spec.get("version")
    rs = state.resources.get(str(address))
    known = []
    if rs is not None and rs.status == "live" and rs.version:
        known.append(f"the workspace has version {rs.version} (the latest it registered)")
    if declared is not None:
        known.append(f"it registers version {declared}")
    else:
        known.append("each new version is numbered when it is registered")
    message = (
        f"{ref.raw} names version {version} of {kinds.noun(address.kind)} {address.name}, which this project"
        f" registers ({own.file}:{own.line}), but version {version} is not in the workspace and the project does"
        f" not declare it: {', and '.join(known)}"
    )
    hint = (
        f"write azureml:{address.name}@latest for the version the project registers, name a version that"
        f" exists, or declare `version: {version}` for {address} in {own.file}"
    )
    return message, hint


def _no_run(config: Config, ref: Reference) -> tuple[str, str]:
    """A job output whose job is neither the project's nor a run in the workspace."""
    job = ref.target.name
    message = (
        f"{ref.raw} names output {ref.output!r} of job {job!r}, which is neither a job of this project"
        " nor a run in the workspace"
    )
    close = closest(job, _names(config, "job"))
    if close is not None:
        message += f"; did you mean {_renamed(ref, close)!r}?"
    hint = (
        "to register a job's output, give the output a name in the job's file"
        f" (outputs: {{{ref.output}: {{type: custom_model, name: <asset name>}}}}), or write"
        f" azureml://jobs/<a job of this project>/outputs/{ref.output}; else write a path that exists"
    )
    return message, hint
