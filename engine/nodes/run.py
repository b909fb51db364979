"""A run (a command job): each execution is a new, immutable record; it runs again ("train") only when
its inputs changed: its resolved spec (the data, environment and model versions it reads), its code,
and the results of the dependencies it counts as inputs. It is never diffed against the workspace.
"""

from __future__ import annotations

from mlplan.core import kinds
from mlplan.core.diffing import field_changes
from mlplan.engine.address import Address
from mlplan.engine.config import ResourceSpec
from mlplan.engine.nodes.base import ApplyContext, NodeKind, Outcome, PlanContext
from mlplan.engine.plan import Action, ResourceChange
from mlplan.engine.reasons import binding_reason, diff_reason
from mlplan.providers.base import TAG_INPUTS, ResourceType
from mlplan.state.model import ResourceState


class RunNode(NodeKind):
    name = "run"
    archive_reason = "a provider that keeps runs as records archives them (hidden from the job list, kept in history)"

    def plan(self, p: PlanContext, res: ResourceSpec) -> ResourceChange:
        address = res.address
        b = p.build(res, self.input_deps(p, res))
        rs = p.entry(address)
        if rs is None:
            return p.change(b, Action.TRAIN, "never run", after=b.public_after)
        run = rs.outputs.get("run", rs.id)
        if address in p.replace:
            return p.change(
                b, Action.TRAIN, f"a new run requested with --replace (last run {run})", after=b.public_after
            )
        if p.same_inputs(rs, b):
            return p.change(
                b, Action.NO_OP, f"inputs unchanged since run {run}", before=rs.attributes, after=b.public_after
            )
        diffs = field_changes(rs.attributes, b.after, frozenset())
        reasons = [diff_reason(rs, b.content, diffs)] if diffs else []
        if b.resolution.bindings:
            reasons.append(binding_reason(b.resolution.bindings))
        reason = "; ".join(reasons) or "an input it depends on changed"
        return p.change(b, Action.TRAIN, reason, before=rs.attributes, after=b.public_after, changes=tuple(diffs))

    @staticmethod
    def input_deps(p: PlanContext, res: ResourceSpec) -> tuple[Address, ...]:
        """Dependencies whose results count as inputs but appear in no reference (depends_on): a new
        data version retrains, a bigger compute cluster does not."""
        referenced = {ref.target for ref in p.graph.refs.get(res.address, [])}
        return tuple(
            d
            for d in p.graph.dependencies(res.address)
            if p.managed(d) and d not in referenced and kinds.facts(d.kind).run_input
        )

    def removal_action(self, rt: ResourceType, rs: ResourceState, res: ResourceSpec | None) -> Action:
        return Action.DELETE if rt.can_delete_versions else Action.ARCHIVE

    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        if change.action in (Action.DELETE, Action.ARCHIVE, Action.FORGET):
            return self.remove(a, change)
        if change.action is not Action.TRAIN:
            raise NotImplementedError(f"a {self.name} node cannot {change.action.value}")
        rt = a.rt(change.address.kind, str(change.address))
        desired = a.desired(change)
        # on the run itself, so that a run adopted after a crash is recorded with the inputs it ran with
        desired.tags[TAG_INPUTS] = a.input_hash(change)
        return Outcome(observed=rt.create(a.ctx, desired), desired=desired)
