"""Input hashes written by state format 1, compared the way they were made.

Format 1 hashed a resource's spec as written, its files and its dependencies' input hashes (for a
run, only those of the kinds it counts as inputs). A state upgraded from format 1 keeps those hashes
marked (``state.upgrade.LEGACY_HASH``); this computes the same formula for the configuration of now,
so that an upgrade alone retrains or recreates nothing. Computed once per plan, and only when state
holds a marked hash.

Format 1 wrote the path of an asset a job output registers as ``azureml://jobs/{run of job.x}/outputs/o``;
it is now written ``azureml://jobs/x/outputs/o``, and hashed here the old way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlplan.core import kinds
from mlplan.engine.address import Address
from mlplan.engine.config import Config
from mlplan.engine.desired import ContentCache, content_of
from mlplan.engine.graph import Graph


def legacy_hashes(config: Config, graph: Graph, cache: ContentCache) -> dict[Address, str]:
    hashes: dict[Address, str] = {}
    for address in graph.order():
        res = config.resources.get(address)
        if res is None:
            continue
        run = kinds.facts(address.kind).node == "run"
        deps = [
            hashes[d] for d in graph.dependencies(address) if d in hashes and (not run or kinds.facts(d.kind).run_input)
        ]
        h = hashlib.sha256()
        h.update(json.dumps(_as_format_1(res.spec, res.derived_from), sort_keys=True, default=str).encode())
        content = content_of(res, cache)
        for k in sorted(content):
            h.update(f"\0{k}={content[k].digest}".encode())
        for d in sorted(deps):
            h.update(f"\0dep={d}".encode())
        hashes[address] = h.hexdigest()[:32]
    return hashes


def _as_format_1(spec: dict[str, Any], derived_from: Address | None) -> dict[str, Any]:
    path = spec.get("path")
    if derived_from is None or derived_from.kind != "job" or not isinstance(path, str):
        return spec
    prefix = f"azureml://jobs/{derived_from.name}/"
    return {**spec, "path": path.replace(prefix, f"azureml://jobs/{{run of {derived_from}}}/", 1)}
