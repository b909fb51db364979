"""A model's promotion (``promotion.<model>``, from mlplan.yaml ``promotion:``): evaluate the latest version
(the challenger) against the version the endpoint serves (the champion), and promote it or keep the champion.

Plan: ``evaluate`` when the challenger, the champion, the evaluation data, the scoring code or the policy
differ from the last evaluation (its input hash); else no_op. The deployments the policy governs serve
the champion (their model reference resolves through this node), so their change is planned "if promoted".

Apply: the challenger is deployed as a temporary deployment on the champion's endpoint (the plan's
``challenger`` spec, no traffic), both deployments score the evaluation data through the endpoint, the
temporary deployment is removed, and McNemar's test decides (engine.promotion). Promoted: this node's
result is the challenger, and the governed deployments move to it. Kept: the condition is not met, the
governed deployments are skipped and keep serving the champion, and apply still succeeds. Either way the
decision and its evidence go into state's promotion history in the same journal record as the node's new
state, so that a decision is never lost or recorded twice. An evaluation that dies half-way is retried by
the next apply, which first removes the temporary deployment it left (``discard``).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from mlplan.core.clock import now_iso
from mlplan.core.errors import Diagnostic, MlplanError, ProviderError
from mlplan.core.faults import crashpoint
from mlplan.engine import actor, scoring
from mlplan.engine import desired as desired_mod
from mlplan.engine import promotion as stats
from mlplan.engine.address import Address
from mlplan.engine.config import ResourceSpec
from mlplan.engine.desired import Result
from mlplan.engine.nodes.base import (
    ApplyContext,
    ChampionRequest,
    NodeKind,
    Outcome,
    PlanContext,
    attributes_digest,
)
from mlplan.engine.plan import UNKNOWN, Action, ResourceChange
from mlplan.engine.references import Reference, parse
from mlplan.providers.base import TAG_CHAMPION, Cancelled, Context, Desired, Observed, Provider, ResourceType

PREFIX = "challenger."  # the promotion's content fields that are its challenger deployment's


class PromotionType(ResourceType):
    """The engine's own resource type for promotions: they live in state, and their operations use the
    provider's deployments, endpoints and data assets."""

    kind = "promotion"
    produced_fields = frozenset({"champion", "decision"})

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        spec = desired.spec
        challenger = spec.get("challenger") or {}
        return {
            "model": spec.get("model"),
            "incumbent": spec.get("incumbent", spec.get("champion")),  # the champion before this change
            "champion": spec.get("champion"),
            "decision": (spec.get("request") or {}).get("decision"),
            "evaluation_data": spec.get("evaluation_data"),
            "label_column": spec.get("label_column"),
            "endpoint": spec.get("endpoint"),
            "deployment": spec.get("deployment"),
            "challenger_deployment": f"{spec.get('endpoint')}/{challenger.get('name')}",
            "policy": spec.get("policy"),
            "scoring": spec.get("scoring"),
            "batch_size": spec.get("batch_size"),
        }

    def read(self, ctx: Context, ident: str) -> Observed | None:
        return None  # never asked: refresh reads nothing for a kind that lives in state only

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return None

    def find_owned(self, ctx: Context, name: str, operation: str) -> Observed | None:
        return None  # an evaluation that died decided nothing: it is evaluated again

    def discard(self, ctx: Context, name: str, operation: str) -> None:
        """Remove the temporary deployment (``name``: endpoint/deployment) an interrupted evaluation left."""
        deployments = self.provider.resource_type("online_deployment")
        found = deployments.find_owned(ctx, name, operation) if deployments is not None else None
        if deployments is not None and found is not None:
            deployments.delete(ctx, found)

    def create(self, ctx: Context, desired: Desired) -> Observed:
        raise NotImplementedError("a promotion is applied by its node kind")

    def delete(self, ctx: Context, current: Observed) -> None:
        return None  # forgetting a policy leaves the model and the deployments as they are


def version_of(model_ref: str | None) -> str | None:
    """``azureml:m:3`` -> ``3``."""
    ref = parse(model_ref, ("model",)) if isinstance(model_ref, str) else None
    return ref.version if isinstance(ref, Reference) and ref.version not in (None, "latest") else None


class PromotionNode(NodeKind):
    name = "promotion"

    def plan(self, p: PlanContext, res: ResourceSpec) -> ResourceChange:
        champion = self.champion(p, res)
        request = p.champions.get(res.address.name)
        if request is not None:
            return self.plan_request(p, res, champion, request)
        res = replace(res, spec={**res.spec, "champion": champion})
        b = p.build(res)
        challenger = b.resolution.spec.get("model")
        data = b.resolution.spec.get("evaluation_data")
        rs = p.entry(res.address)
        before = rs.attributes if rs is not None else None
        if challenger != UNKNOWN and challenger == champion:
            return p.change(b, Action.NO_OP, f"{challenger} is the champion", before=before, after=before)
        if rs is not None and p.same_inputs(rs, b):
            last = rs.attributes.get("decision")
            why = f"{challenger} was evaluated against {champion or 'no champion'} on {data}: {last}"
            return p.change(b, Action.NO_OP, why, before=before, after=before)
        through = f"through a temporary deployment {b.after['challenger_deployment']}"
        if challenger == UNKNOWN:  # registered in this apply: its number is known then
            challenger = f"the new version of {res.address.name}"
        if data == UNKNOWN:
            data = str(res.spec.get("evaluation_data"))
        if champion is None:
            policy = res.spec["policy"]
            reason = (
                f"first model: {challenger} is served if its accuracy on {data} reaches"
                f" {policy.get('min_accuracy', 0)} (scored {through})"
            )
        else:
            reason = f"evaluate {challenger} against champion {champion} on {data}, {through}"
        return p.change(b, Action.EVALUATE, reason, before=before, after=b.public_after)

    def plan_request(
        self, p: PlanContext, res: ResourceSpec, champion: str | None, request: ChampionRequest
    ) -> ResourceChange:
        """``mlplan promote`` / ``rollback``: the chosen version becomes the champion without an evaluation,
        and the governed deployments move to it. Recorded as if the latest version had been evaluated with
        that champion, so that the next plan does not evaluate it again (a rollback sticks until a new
        version comes)."""
        chosen = f"azureml:{res.address.name}:{request.version}"
        normal = p.build(replace(res, spec={**res.spec, "champion": chosen}))
        if not normal.input_hash:
            p.error(
                Diagnostic(
                    f"model {res.address.name} has a new version in this plan: apply it first, then choose a champion",
                    address=str(res.address),
                )
            )
        asked = {**res.spec, "champion": chosen, "incumbent": champion, "request": asdict(request)}
        b = p.build(replace(res, spec=asked))
        rs = p.entry(res.address)
        reason = f"{request.decision} requested: champion {champion or 'none'} -> {chosen} ({request.reason})"
        after = {**b.public_after, "champion": chosen, "decision": request.decision}
        change = p.change(b, Action.PROMOTE, reason, before=rs.attributes if rs else None, after=after)
        return replace(change, input_hash=normal.input_hash)

    @staticmethod
    def champion(p: PlanContext, res: ResourceSpec) -> str | None:
        """The champion: as the last decision left it, else what the governed deployment serves now."""
        rs = p.entry(res.address)
        if rs is not None and rs.attributes.get("champion"):
            return str(rs.attributes["champion"])
        serving = p.entry(Address("online_deployment", f"{res.spec['endpoint']}/{res.spec['deployment']}"))
        model = serving.attributes.get("model") if serving is not None and serving.status == "live" else None
        return str(model) if version_of(model) is not None else None

    def planned_result(self, p: PlanContext, change: ResourceChange) -> Result | None:
        if change.action is Action.EVALUATE:
            return None  # the champion is known once evaluated
        rs = p.entry(change.address)
        after = change.after if change.action is Action.PROMOTE else (rs.attributes if rs is not None else None)
        champion = (after or {}).get("champion")
        version = version_of(champion)
        return {"version": version, "id": str(champion), "run": ""} if version is not None else None

    def operation_name(self, change: ResourceChange) -> str:
        """The temporary deployment (endpoint/name): what an interrupted evaluation may leave behind."""
        return str((change.after or {}).get("challenger_deployment", change.address.name))

    def apply(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        if change.action in (Action.DELETE, Action.FORGET):
            return Outcome(removed=True)
        if change.action is Action.PROMOTE:
            return self.apply_request(a, change)
        if change.action is not Action.EVALUATE:
            raise NotImplementedError(f"a {self.name} node cannot {change.action.value}")
        desired = a.desired(change)
        spec = desired.spec
        evaluation = Evaluation(a, change, desired)
        labels, champion_pred, challenger_pred = evaluation.run()
        table = stats.contingency(labels, champion_pred, challenger_pred)
        policy = stats.Policy(**spec["policy"])  # as the plan shows it, defaults included
        decision = stats.decide(table, policy)
        champion = spec["model"] if decision.promote else spec.get("champion")
        verdict = "promoted" if decision.promote else "kept"
        evaluation.log(
            f"{table.n} rows: both right {table.both_right}, champion only {table.b}, challenger only {table.c},"
            f" both wrong {table.both_wrong}"
        )
        for line in decision.reasons:
            evaluation.log(line)
        evaluation.log("promoted" if decision.promote else "kept: the champion keeps serving")
        attributes = {
            **a.rt(change.address.kind).desired_attributes(desired),
            "champion": champion,
            "decision": verdict,
        }
        observed = Observed(id=f"promotion/{change.address.name}", attributes=attributes, version=version_of(champion))
        history = {
            "model": change.address.name,
            "decision": verdict,
            "at": now_iso(),
            "by": actor.who(),
            "champion_before": spec.get("champion"),
            "challenger": spec["model"],
            "champion": champion,
            "evaluation_data": spec["evaluation_data"],
            "reasons": list(decision.reasons),
            "evidence": decision.evidence,
            "hashes": evaluation.hashes,
        }
        if decision.promote:
            crown(a, change.address.name, champion, spec.get("champion"))
            return Outcome(observed=observed, desired=desired, history=history)
        kept = f"{spec['model']} not promoted: {decision.reasons[-1] if decision.reasons else 'kept'}"
        return Outcome(observed=observed, desired=desired, history=history, not_met=kept)

    def apply_request(self, a: ApplyContext, change: ResourceChange) -> Outcome:
        desired = a.desired(change)
        spec = desired.spec
        request = spec["request"]
        champion = spec["champion"]
        attributes = {
            **a.rt(change.address.kind).desired_attributes(desired),
            "champion": champion,
            "decision": request["decision"],
        }
        history = {
            "model": change.address.name,
            "decision": request["decision"],
            "at": now_iso(),
            "by": actor.who(),
            "champion_before": (change.after or {}).get("incumbent"),
            "challenger": None,
            "champion": champion,
            "reasons": [request["reason"]],
        }
        observed = Observed(id=f"promotion/{change.address.name}", attributes=attributes, version=version_of(champion))
        crown(a, change.address.name, champion, (change.after or {}).get("incumbent"))
        return Outcome(observed=observed, desired=desired, history=history)


def crown(a: ApplyContext, model: str, champion: str | None, before: str | None) -> None:
    """The champion marker in the workspace (``mlplan.champion`` on the model version), moved from ``before``."""
    if before is not None and before != champion:
        _mark(a, model, before, None)
    if champion is not None:
        _mark(a, model, champion, "true")


def _mark(a: ApplyContext, model: str, ref: str, value: str | None) -> None:
    version = version_of(ref)
    models = a.rt("model")
    found = models.lookup(a.ctx, model, version) if version is not None else None
    if found is not None:  # a version removed since: nothing to mark
        models.mark(a.ctx, found, {TAG_CHAMPION: value})


class Evaluation:
    """Scoring the evaluation data with the champion and the challenger, through the endpoint."""

    def __init__(self, a: ApplyContext, change: ResourceChange, desired: Desired) -> None:
        self.a, self.change, self.desired = a, change, desired
        self.spec = desired.spec
        self.hashes: dict[str, str] = {}

    def run(self) -> tuple[Any, Any, Any]:
        a, spec = self.a, self.spec
        endpoint_name = spec["endpoint"]
        endpoints = a.rt("online_endpoint")
        endpoint = a.current(Address("online_endpoint", endpoint_name))
        table = self.read_data()
        deployments = a.rt("online_deployment")
        temporary = self.challenger_desired()
        made = deployments.create(a.ctx, temporary)
        try:

            def invoke(deployment: str, body: bytes, content_type: str) -> bytes:
                return endpoints.invoke(a.ctx, endpoint, deployment, body, content_type)

            champion = None
            if spec.get("champion"):
                self.log(f"scoring {len(table)} rows with the champion {spec['champion']} ({spec['deployment']})")
                champion = self.score(invoke, spec["deployment"], table)
            self.log(f"scoring {len(table)} rows with the challenger {spec['model']} ({temporary.name})")
            challenger = self.score(invoke, temporary.name.split("/", 1)[1], table)
            crashpoint("mid_evaluation")  # scored, not decided: the next apply removes the deployment, evaluates again
        except Cancelled:
            raise
        except MlplanError as exc:  # a deployment that answers what cannot be read: a failure, not a crash
            raise ProviderError(str(exc), address=str(self.change.address)) from exc
        finally:
            deployments.delete(a.ctx, made)
        self.hashes["champion"] = str(spec.get("champion"))
        self.hashes["challenger"] = str(spec["model"])
        return table.labels, champion, challenger

    def read_data(self) -> scoring.Table:
        a, spec = self.a, self.spec
        ref = parse(str(spec["evaluation_data"]), ("evaluation_data",))
        if not isinstance(ref, Reference):
            raise ProviderError(f"evaluation_data {spec['evaluation_data']!r} is not a data asset reference")
        data_rt = a.rt("data")
        found = data_rt.lookup(a.ctx, ref.target.name, ref.version)
        if found is None:
            raise ProviderError(f"the evaluation data {spec['evaluation_data']} is gone; plan again")
        self.hashes["evaluation_data"] = f"{found.id}@{attributes_digest(found.attributes)}"
        asset = f"data asset {ref.target.name}:{found.version}"
        try:
            return scoring.read_table(data_rt.fetch(a.ctx, found), str(spec["label_column"]), asset)
        except MlplanError as exc:
            raise ProviderError(str(exc), address=str(self.change.address)) from exc

    def score(self, invoke: Any, deployment: str, table: scoring.Table) -> Any:
        spec = self.spec
        fmt = scoring.request_format(spec.get("scoring") or "default", self.a.root)
        return scoring.score(
            invoke,
            deployment,
            table,
            fmt,
            batch_size=int(spec.get("batch_size") or scoring.DEFAULT_BATCH_SIZE),
            concurrency=scoring.capacity(spec["challenger"]),  # the champion's size: the challenger copies it
            progress=lambda done, total: self.log(f"{deployment}: {done}/{total} rows") if done == total else None,
            cancelled=self.a.ctx.cancelled.is_set,
        )

    def log(self, message: str) -> None:
        self.a.ctx.log(f"[{self.change.address}] {message}")

    def challenger_desired(self) -> Desired:
        spec, ds = self.spec, self.change.desired
        assert ds is not None
        challenger = dict(spec["challenger"])
        address = Address("online_deployment", f"{spec['endpoint']}/{challenger['name']}")
        content = {k.removeprefix(PREFIX): v for k, v in ds.content.items() if k.startswith(PREFIX)}
        tags = desired_mod.ownership_tags(self.a.project, self.change.address, self.a.op_id)
        return desired_mod.make_desired(
            address, challenger, self.a.root / ds.base_dir, "managed", content, self.a.project, tags
        )
