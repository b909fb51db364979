"""An immutable asset version (data, environment, model; also one registered from a job's output).

Content changes make a new version, never an edit; only the fields the provider can change in place
(description, tags) are updated. An explicit ``version:`` whose content changed must be bumped.
Removing an asset archives its version (Azure ML cannot delete asset versions).
"""

from __future__ import annotations

from mlplan.engine.config import ResourceSpec
from mlplan.engine.desired import Result
from mlplan.engine.nodes.base import ApplyContext, NodeKind, Outcome, PlanContext, lifecycle_change, public
from mlplan.engine.plan import UNKNOWN, Action, ResourceChange
from mlplan.engine.reasons import diff_reason
from mlplan.providers.base import ResourceType
from mlplan.state.model import ResourceState


class AssetNode(NodeKind):
    name = "asset"

    def lookup_for(self, res: ResourceSpec) -> tuple[str, str | None] | None:
        version = res.spec.get("version")
        # without a version mlplan makes the next one: there is nothing to collide with
        return (res.address.name, str(version)) if version is not None else None

    def plan(self, p: PlanContext, res: ResourceSpec) -> ResourceChange:
        address = res.address
        b = p.build(res)
        rs, observed = p.observed(address)
        producer = res.produced_by
        from_new_run = producer is not None and any(x.source == producer for x in b.resolution.bindings)
        if rs is None:
            adopted = p.adoption(b)
            if adopted is not None:
                return adopted
            if from_new_run:
                why = f"registered from the new run of {producer}"
            elif producer is not None:
                run = (p.result_of(producer) or {}).get("run") if p.managed(producer) else producer.name
                why = f"registered from run {run} of {producer if p.managed(producer) else 'the workspace'}"
            else:
                why = "not in state: will be created"
            return p.change(b, Action.CREATE, why, after=b.public_after)
        by_lifecycle = lifecycle_change(p, b, rs, observed)
        if by_lifecycle is not None:
            return by_lifecycle
        assert observed is not None
        before = public(observed.attributes, b.rt.sensitive_fields)
        diff = p.diff(b, observed.attributes)

        def new_version(reason: str) -> ResourceChange:
            return p.change(b, Action.NEW_VERSION, reason, before=before, after=b.public_after, changes=diff.changes)

        if address in p.replace:
            return new_version("replacement requested with --replace")
        if from_new_run:
            return new_version(f"registered from the new run of {producer}")
        if producer is not None and not p.same_inputs(rs, b):
            if not p.managed(producer):  # a run of the workspace: if no field changed, the path did
                if not diff.changed:
                    return new_version(f"registered from another run: {res.spec.get('path')}")
            else:
                run = (p.result_of(producer) or {}).get("run", "")
                return new_version(f"{producer} has a run ({run}) this version was not registered from")
        if not diff.changed:
            return p.change(b, Action.NO_OP, "up to date", before=before, after=b.public_after)
        reason = diff_reason(rs, b.content, diff.changes)
        if not diff.replaces:
            return p.change(b, Action.UPDATE, reason, before=before, after=b.public_after, changes=diff.changes)
        explicit = b.desired.version
        if explicit is not None and explicit == observed.version:
            if not p.diff(b, rs.attributes).changed:  # the workspace changed, not the configuration
                return p.change(
                    b,
                    Action.UPDATE,
                    f"changed outside mlplan, restoring version {explicit}: {reason}",
                    before=before,
                    after=b.public_after,
                    changes=diff.changes,
                )
            p.error(
                res.diag(
                    f"{address.kind} {address.name} version {explicit} already exists with other"
                    f" content ({reason}); Azure ML asset versions are immutable",
                    ("version",),
                    hint=f"bump `version:` (e.g. to {_next(explicit)}) or remove it to let mlplan number versions",
                )
            )
            return p.change(b, Action.NO_OP, "error: version must be bumped")
        if explicit is not None:
            reason = f"version {observed.version} -> {explicit}; {reason}"
        return new_version(reason)

    def planned_result(self, p: PlanContext, change: ResourceChange) -> Result | None:
        ds = change.desired
        if change.action in (Action.CREATE, Action.NEW_VERSION) and ds is not None and ds.version is not None:
            return {"version": ds.version, "id": UNKNOWN, "run": ""}  # an explicit version is known now
        return super().planned_result(p, change)

    def removal_action(self, rt: ResourceType, rs: ResourceState, res: ResourceSpec | None) -> Action:
        on_remove = res.lifecycle.on_remove if res is not None else rs.on_remove
        return Action.DELETE if on_remove == "delete" and rt.can_delete_versions else Action.ARCHIVE

    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        action = change.action
        if action in (Action.DELETE, Action.ARCHIVE, Action.FORGET):
            return self.remove(a, change)
        if action is Action.ADOPT:
            return self.adopt(a, change)
        rt = a.rt(change.address.kind, str(change.address))
        desired = a.desired(change)
        if action in (Action.CREATE, Action.NEW_VERSION):
            return Outcome(observed=rt.create(a.ctx, desired), desired=desired)
        if action is Action.UPDATE:
            return Outcome(observed=rt.update(a.ctx, desired, a.current(change.address)), desired=desired)
        raise NotImplementedError(f"an {self.name} node cannot {action.value}")


def _next(version: str) -> str:
    return str(int(version) + 1) if version.isdigit() else version + ".1"
