"""A plain resource (a compute, an online endpoint or deployment, an ARM deployment): created, updated in
place, replaced when a field that cannot change in place changes, deleted."""

from __future__ import annotations

from dataclasses import replace

from mlplan.engine import predictions
from mlplan.engine.config import ResourceSpec
from mlplan.engine.nodes.base import ApplyContext, Built, NodeKind, Outcome, PlanContext, lifecycle_change, public
from mlplan.engine.plan import Action, ResourceChange
from mlplan.engine.reasons import diff_reason
from mlplan.providers.base import Observed, PredictedChange


class ResourceNode(NodeKind):
    name = "resource"

    def lookup_for(self, res: ResourceSpec) -> tuple[str, str | None] | None:
        return res.address.name, None  # a resource of that name may exist already: ours (adopt) or not

    def plan(self, p: PlanContext, res: ResourceSpec) -> ResourceChange:
        address = res.address
        b = p.build(res)
        rs, observed = p.observed(address)
        if rs is None:
            adopted = p.adoption(b)
            if adopted is not None:
                return adopted
            return p.change(
                b,
                Action.CREATE,
                "not in state: will be created",
                after=b.public_after,
                predicted=self._predict(p, b, None),
            )
        by_lifecycle = lifecycle_change(p, b, rs, observed)
        if by_lifecycle is not None:
            if by_lifecycle.action is Action.CREATE:
                return replace(by_lifecycle, predicted=self._predict(p, b, None))
            return by_lifecycle
        assert observed is not None
        before = public(observed.attributes, b.rt.sensitive_fields)
        diff = p.diff(b, observed.attributes)
        order = "create_first" if res.lifecycle.create_before_destroy else "delete_first"
        if address in p.replace:
            change = p.change(
                b,
                Action.REPLACE,
                "replacement requested with --replace",
                before=before,
                after=b.public_after,
                changes=diff.changes,
                replace_order=order,
                predicted=self._predict(p, b, None),
            )
            return p.guard(res, change)
        if not diff.changed:
            predicted = self._predict(p, b, observed) if p.refreshed else None
            drifted = predictions.drifting(predicted)
            if drifted:  # the files say nothing changed; what it manages was changed outside mlplan
                reason = (
                    f"configuration unchanged, but what it deployed drifted: the {p.provider.name} provider"
                    f" predicts {predictions.summary(drifted)}"
                )
                return p.change(b, Action.UPDATE, reason, before=before, after=b.public_after, predicted=predicted)
            return p.change(b, Action.NO_OP, "up to date", before=before, after=b.public_after)
        reason = diff_reason(rs, b.content, diff.changes)
        if diff.replaces:
            change = p.change(
                b,
                Action.REPLACE,
                f"{', '.join(sorted(diff.replaces))} cannot change in place; {reason}",
                before=before,
                after=b.public_after,
                changes=diff.changes,
                replace_order=order,
                predicted=self._predict(p, b, None),
            )
            return p.guard(res, change)
        return p.change(
            b,
            Action.UPDATE,
            reason,
            before=before,
            after=b.public_after,
            changes=diff.changes,
            predicted=self._predict(p, b, observed),
        )

    @staticmethod
    def _predict(p: PlanContext, b: Built, current: Observed | None) -> tuple[PredictedChange, ...] | None:
        """What the provider predicts (read-only); nothing while bindings leave values to apply."""
        if b.resolution.bindings:
            return None
        return b.rt.predict(p.ctx, b.desired, current)

    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        action = change.action
        if action in (Action.DELETE, Action.FORGET):
            return self.remove(a, change)
        if action is Action.ADOPT:
            return self.adopt(a, change)
        rt = a.rt(change.address.kind, str(change.address))
        desired = a.desired(change)
        current = a.current(change.address) if action is not Action.CREATE else None
        if change.predicted is not None:  # right before acting: does the plan's prediction still hold?
            now = rt.predict(a.ctx, desired, current if action is Action.UPDATE else None)
            predictions.check_unchanged(str(change.address), a.provider.name, change.predicted, now)
        if action is Action.CREATE:
            return Outcome(observed=rt.create(a.ctx, desired), desired=desired)
        assert current is not None
        if action is Action.UPDATE:
            return Outcome(observed=rt.update(a.ctx, desired, current), desired=desired)
        if action is Action.REPLACE:
            if change.replace_order == "create_first":
                made = rt.create(a.ctx, desired)
                rt.delete(a.ctx, current)
            else:
                rt.delete(a.ctx, current)
                made = rt.create(a.ctx, desired)
            return Outcome(observed=made, desired=desired)
        raise NotImplementedError(f"a {self.name} node cannot {action.value}")
