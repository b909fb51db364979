"""Local online endpoints, deployments and traffic, served by the real Azure ML inference server.

Each endpoint is a router process on a loopback port (its scoring URI); each deployment is an
``azmlinfsrv`` process running the deployment's scoring script with ``AZUREML_MODEL_DIR`` set to
the registered model version. ``routes.json`` in the endpoint's folder tells the router where each
deployment listens and how traffic is split. Servers keep running after mlplan exits.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import filelock

from mlplan.core.clock import now_iso
from mlplan.core.content import list_files
from mlplan.core.errors import ProviderError
from mlplan.core.faults import crashpoint
from mlplan.core.kinds import is_remote
from mlplan.providers.base import (
    OWNERSHIP_TAGS,
    Cancelled,
    Context,
    Desired,
    Observed,
    Problem,
    ResourceType,
    check_fields,
    token_hash,
)
from mlplan.providers.local import serving
from mlplan.providers.local.assets import NOT_LOCAL, conda_problems, user_tags
from mlplan.providers.local.paths import ASSET, asset_dir
from mlplan.providers.local.scoring import Pools
from mlplan.providers.local.workspace import read_json, remove_tree, workspace_root, write_json_atomic

SCORING_TIMEOUT_S = 120.0  # one scoring request (a batch of rows), router and inference server included
SWITCH_GRACE_S = 0.5  # after traffic moves to a new server, let requests already routed to the old one finish


def _type_path(desired: Desired) -> tuple[str, ...]:
    return ("type",) if "type" in desired.spec else ()


def endpoint_dir(ctx: Context, endpoint: str) -> Path:
    return workspace_root(ctx) / "endpoints" / endpoint


@contextlib.contextmanager
def routes(ctx: Context, endpoint: str) -> Iterator[dict[str, Any]]:
    """Read-modify-write the endpoint's routing table under its lock; written atomically."""
    folder = endpoint_dir(ctx, endpoint)
    folder.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(folder / "routes.lock")):
        table = read_json(folder / "routes.json") or {"deployments": {}, "traffic": {}}
        yield table
        write_json_atomic(folder / "routes.json", table)


def _own_tags(desired: Desired) -> dict[str, str]:
    return {**user_tags(desired.spec.get("tags")), **{k: v for k, v in desired.tags.items() if k in OWNERSHIP_TAGS}}


# -- endpoints ---------------------------------------------------------------------------------------
class OnlineEndpointType(ResourceType):
    kind = "online_endpoint"
    id_format = "onlineEndpoints/<name>"
    output_fields = frozenset({"scoring_uri", "port", "name"})
    immutable_fields = frozenset({"auth_mode"})

    def __init__(self) -> None:
        # keep-alive connections to each endpoint's router, for scoring requests (``invoke``)
        self._pools = Pools(serving.HOST, timeout=SCORING_TIMEOUT_S)

    def validate(self, desired: Desired) -> list[Problem]:
        if (desired.subtype or "managed") != "managed":
            return [
                Problem(
                    _type_path(desired), f"{desired.subtype} endpoints are {NOT_LOCAL}", "use managedOnlineEndpoint"
                )
            ]
        if desired.spec.get("compute"):  # azure-ai-ml loads an endpoint with a compute as a Kubernetes one
            return [
                Problem(
                    ("compute",),
                    f"Kubernetes online endpoints (compute:) are {NOT_LOCAL}",
                    "remove compute: for a managed online endpoint",
                )
            ]
        problems = []
        mode = str(desired.spec.get("auth_mode", "key")).lower()
        if mode != "key":  # a value azure-ai-ml does not know is the schema check's to report
            problems.append(Problem(("auth_mode",), f"auth_mode {mode} is {NOT_LOCAL}", "use auth_mode: key"))
        if desired.spec.get("mirror_traffic"):
            problems.append(Problem(("mirror_traffic",), f"mirror_traffic is {NOT_LOCAL}", "remove mirror_traffic"))
        return problems

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        spec = desired.spec
        return {
            "auth_mode": str(spec.get("auth_mode", "key")).lower(),
            "description": spec.get("description"),
            "tags": user_tags(spec.get("tags")),
            "public_network_access": spec.get("public_network_access", "enabled"),
            "identity": spec.get("identity"),
            "running": True,
        }

    def _observe(self, ctx: Context, name: str) -> Observed | None:
        folder = endpoint_dir(ctx, name)
        meta = read_json(folder / "endpoint.json")
        if meta is None:
            return None
        router = serving.Server.load(folder / "router.json")
        keys = read_json(folder / "keys.json") or {}
        attrs = dict(meta["attributes"])
        attrs["running"] = bool(router and router.healthy())
        port = meta["port"]
        return Observed(
            id=f"onlineEndpoints/{name}",
            attributes=attrs,
            tags=meta.get("tags", {}),
            outputs={"scoring_uri": f"http://{serving.HOST}:{port}/score", "port": port, "name": name},
            secrets={k: token_hash(v) for k, v in keys.items()},
        )

    def read(self, ctx: Context, ident: str) -> Observed | None:
        return self._observe(ctx, ident.split("/", 1)[1])

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self._observe(ctx, name)

    def credentials(self, ctx: Context, current: Observed) -> dict[str, str]:
        return read_json(endpoint_dir(ctx, current.id.split("/", 1)[1]) / "keys.json") or {}

    def invoke(
        self, ctx: Context, endpoint: Observed, deployment: str, body: bytes, content_type: str = "application/json"
    ) -> bytes:
        name = endpoint.id.split("/", 1)[1]
        what = f"endpoint {name!r}, deployment {deployment!r}"
        ctx.check_cancelled(f"scoring through {what}")
        folder = endpoint_dir(ctx, name)
        meta = read_json(folder / "endpoint.json")
        if meta is None:
            raise ProviderError(f"{what}: the endpoint does not exist in the local workspace")
        key = (read_json(folder / "keys.json") or {}).get("primary_key", "")
        port = int(meta["port"])
        headers = {
            "Content-Type": content_type,
            "Authorization": f"Bearer {key}",
            "azureml-model-deployment": deployment,
        }
        try:
            status, data = self._pools.get(port).post("/score", body, headers)
        except (OSError, http.client.HTTPException) as exc:  # about the connection: no key in these
            raise ProviderError(
                f"{what}: no answer from the scoring URI http://{serving.HOST}:{port}/score"
                f" ({type(exc).__name__}: {exc}); `mlplan apply` restarts an endpoint whose server stopped"
            ) from None
        if not 200 <= status < 300:
            start = data[: 200 + len(key)].decode("utf-8", errors="replace")  # a key cut in two is a key too
            if key:
                start = start.replace(key, "(sensitive)")
            raise ProviderError(f"{what}: the scoring request failed with HTTP {status}: {start[:200]}")
        return data

    def close(self) -> None:
        self._pools.close()

    def _start_router(self, ctx: Context, name: str, port: int) -> None:
        folder = endpoint_dir(ctx, name)
        old = serving.Server.load(folder / "router.json")
        if old is not None:
            serving.stop(old)
        marker = f"--dir {folder}"
        server = serving.start(
            [sys.executable, "-m", "mlplan.providers.local.router", "--dir", str(folder), "--port", str(port)],
            env=dict(os.environ),
            cwd=folder,
            log=folder / "router.log",
            port=port,
            marker=marker,
        )
        server.save(folder / "router.json")
        serving.wait_healthy(server, "/", timeout=30, ctx=ctx)

    def _write(self, ctx: Context, desired: Desired, port: int) -> None:
        folder = endpoint_dir(ctx, desired.name)
        attrs = self.desired_attributes(desired)
        write_json_atomic(
            folder / "endpoint.json",
            {
                "name": desired.name,
                "port": port,
                "attributes": attrs,
                "tags": _own_tags(desired),
                "created_at": now_iso(),
            },
        )
        keys = read_json(folder / "keys.json")
        if keys is None:
            keys = {"primary_key": secrets.token_urlsafe(32), "secondary_key": secrets.token_urlsafe(32)}
            write_json_atomic(folder / "keys.json", keys)
            os.chmod(folder / "keys.json", 0o600)
        with routes(ctx, desired.name) as table:
            table["auth_mode"] = attrs["auth_mode"]
            table["key_hashes"] = [token_hash(k) for k in keys.values()]  # what the router checks

    def create(self, ctx: Context, desired: Desired) -> Observed:
        root = workspace_root(ctx)
        folder = endpoint_dir(ctx, desired.name)
        folder.mkdir(parents=True, exist_ok=True)
        existing = read_json(folder / "endpoint.json")
        port = int(existing["port"]) if existing else serving.allocate_port(root)
        self._write(ctx, desired, port)
        crashpoint("mid_operation")
        router = serving.Server.load(folder / "router.json")
        if router is None or not router.healthy():  # an update of a running endpoint keeps serving
            self._start_router(ctx, desired.name, port)
        observed = self._observe(ctx, desired.name)
        assert observed is not None
        return observed

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        return self.create(ctx, desired)  # keeps the port and keys; restarts the router only if needed

    def delete(self, ctx: Context, current: Observed) -> None:
        name = current.id.split("/", 1)[1]
        folder = endpoint_dir(ctx, name)
        for server_file in folder.glob("deployments/*/*/server.json"):
            server = serving.Server.load(server_file)
            if server is not None:
                serving.stop(server)
                serving.release_port(workspace_root(ctx), server.port)
        router = serving.Server.load(folder / "router.json")
        if router is not None:
            serving.stop(router)
            serving.release_port(workspace_root(ctx), router.port)
        remove_tree(folder)


# -- deployments -----------------------------------------------------------------------------------
class OnlineDeploymentType(ResourceType):
    kind = "online_deployment"
    id_format = "onlineEndpoints/<endpoint>/deployments/<name>"
    output_fields = frozenset({"port", "log", "generation"})

    def validate(self, desired: Desired) -> list[Problem]:
        spec = desired.spec
        if (desired.subtype or "managed") != "managed":
            return [
                Problem(
                    _type_path(desired), f"{desired.subtype} deployments are {NOT_LOCAL}", "use managedOnlineDeployment"
                )
            ]
        problems = check_fields(spec, {"instance_count": int, "app_insights_enabled": bool})
        if isinstance(spec.get("environment"), dict):  # an inline environment
            problems += conda_problems(spec["environment"], desired.base_dir, ("environment",))
        model = spec.get("model")
        if isinstance(model, dict):  # an inline model, as in Microsoft's samples: registered anonymously
            path = model.get("path")
            if not isinstance(path, str) or is_remote(path):
                problems.append(
                    Problem(
                        ("model", "path"),
                        f"an inline model needs a local path: {path!r} is {NOT_LOCAL}",
                        "write model: {path: ./model} (a local file or folder), or refer to a registered model",
                    )
                )
        elif not isinstance(model, str) or not model.startswith("azureml:") or model.startswith("azureml://"):
            problems.append(
                Problem(
                    ("model",),
                    f"a URI model is {NOT_LOCAL}",
                    "refer to a registered model as azureml:<name>:<version> or azureml:<name>@latest,"
                    " or write the model inline: model: {path: ./model}",
                )
            )
        code = (spec.get("code_configuration") or {}).get("code")
        script = (spec.get("code_configuration") or {}).get("scoring_script")
        if not code or not script:
            problems.append(
                Problem(
                    ("code_configuration",),
                    "the local provider needs code_configuration with code and"
                    " scoring_script (no-code MLflow deployments are " + NOT_LOCAL + ")",
                    "add code_configuration: {code: ./score, scoring_script: score.py}",
                )
            )
        elif isinstance(code, str) and is_remote(code):
            problems.append(Problem(("code_configuration", "code"), f"remote code is {NOT_LOCAL}", "use a folder"))
        elif isinstance(code, str) and not (desired.base_dir / code / str(script)).is_file():
            problems.append(
                Problem(
                    ("code_configuration", "scoring_script"),
                    f"scoring script {script!r} not found in {code!r}",
                    "fix scoring_script: it is relative to code:",
                )
            )
        return problems

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        spec = desired.spec
        cc = spec.get("code_configuration") or {}
        return {
            "model": _model_reference(desired),
            "code": desired.content.get("code_configuration.code"),
            "scoring_script": cc.get("scoring_script"),
            "environment": spec.get("environment"),
            # an inline environment's files count too (a changed conda file updates the deployment)
            "environment_files": {k: v for k, v in sorted(desired.content.items()) if k.startswith("environment.")},
            "environment_variables": {str(k): str(v) for k, v in (spec.get("environment_variables") or {}).items()},
            "instance_type": spec.get("instance_type"),
            "instance_count": spec.get("instance_count", 1),
            "request_settings": spec.get("request_settings"),
            "liveness_probe": spec.get("liveness_probe"),
            "readiness_probe": spec.get("readiness_probe"),
            "app_insights_enabled": spec.get("app_insights_enabled", False),
            "description": spec.get("description"),
            "tags": user_tags(spec.get("tags")),
            "running": True,
        }

    @staticmethod
    def _names(desired_or_id: str) -> tuple[str, str]:
        endpoint, _, deployment = desired_or_id.partition("/")
        return endpoint, deployment

    def _dir(self, ctx: Context, endpoint: str, deployment: str) -> Path:
        return endpoint_dir(ctx, endpoint) / "deployments" / deployment

    def _observe(self, ctx: Context, endpoint: str, deployment: str) -> Observed | None:
        folder = self._dir(ctx, endpoint, deployment)
        meta = read_json(folder / "deployment.json")
        if meta is None:
            return None
        server = serving.Server.load(folder / str(meta["generation"]) / "server.json")
        attrs = dict(meta["attributes"])
        attrs["running"] = bool(server and server.healthy())
        return Observed(
            id=f"onlineEndpoints/{endpoint}/deployments/{deployment}",
            attributes=attrs,
            tags=meta.get("tags", {}),
            outputs={
                "port": server.port if server else None,
                "log": server.log if server else None,
                "generation": meta["generation"],
            },
        )

    def read(self, ctx: Context, ident: str) -> Observed | None:
        parts = ident.split("/")
        return self._observe(ctx, parts[1], parts[3])

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self._observe(ctx, *self._names(name))

    def _start(self, ctx: Context, desired: Desired, folder: Path) -> serving.Server:
        spec = desired.spec
        cc = spec["code_configuration"]
        code_src = (desired.base_dir / cc["code"]).resolve()
        code_dir = folder / "code"
        for rel in list_files(code_src):
            (code_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(code_src / rel, code_dir / rel)
        reference = _model_reference(desired)
        if isinstance(spec["model"], dict):
            _register_anonymous(ctx, desired, reference)
        m = ASSET.match(str(reference))
        if m is None:
            raise ProviderError(f"model {spec['model']!r} is not resolved to a version")
        model_dir = asset_dir(ctx, "model", m.group(1), m.group(2))
        if not model_dir.is_dir():
            raise ProviderError(f"model {m.group(1)}:{m.group(2)} does not exist in the local workspace")
        port = serving.allocate_port(workspace_root(ctx))
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in (spec.get("environment_variables") or {}).items()})
        env.update(AZUREML_MODEL_DIR=str(model_dir), AZUREML_ENTRY_SCRIPT=str(cc["scoring_script"]))
        env.pop("MLPLAN_CRASHPOINT", None)
        marker = f"--port {port}"
        server = serving.start(
            [
                sys.executable,
                "-m",
                "mlplan.providers.local.infsrv",  # azmlinfsrv, bound to loopback
                "--entry_script",
                str(code_dir / cc["scoring_script"]),
                "--port",
                str(port),
            ],
            env=env,
            cwd=code_dir,
            log=folder / "server.log",
            port=port,
            marker=marker,
        )
        server.save(folder / "server.json")
        try:
            serving.wait_healthy(server, "/", timeout=120, ctx=ctx, code_dir=code_dir)
        except (ProviderError, Cancelled):
            serving.release_port(workspace_root(ctx), port)
            raise
        return server

    def _save(self, ctx: Context, desired: Desired, generation: int) -> Observed:
        endpoint, deployment = self._names(desired.name)
        write_json_atomic(
            self._dir(ctx, endpoint, deployment) / "deployment.json",
            {
                "generation": generation,
                "attributes": self.desired_attributes(desired),
                "tags": _own_tags(desired),
                "updated_at": now_iso(),
            },
        )
        observed = self._observe(ctx, endpoint, deployment)
        assert observed is not None
        return observed

    def create(self, ctx: Context, desired: Desired) -> Observed:
        endpoint, deployment = self._names(desired.name)
        if read_json(endpoint_dir(ctx, endpoint) / "endpoint.json") is None:
            raise ProviderError(f"endpoint {endpoint!r} does not exist in the local workspace")
        meta = read_json(self._dir(ctx, endpoint, deployment) / "deployment.json")
        if meta is not None:  # exists (e.g. adopted after a crash): an update keeps serving throughout
            current = self._observe(ctx, endpoint, deployment)
            assert current is not None
            return self.update(ctx, desired, current)
        folder = self._dir(ctx, endpoint, deployment) / "1"
        self._stop_all(ctx, self._dir(ctx, endpoint, deployment))  # an attempt that died before recording itself
        remove_tree(folder)
        server = self._start(ctx, desired, folder)
        with routes(ctx, endpoint) as table:
            table["deployments"][deployment] = {"port": server.port}
        crashpoint("mid_operation")
        return self._save(ctx, desired, 1)

    def update(self, ctx: Context, desired: Desired, current: Observed) -> Observed:
        """Blue/green inside one deployment: start the new server, wait for health, switch, stop the old."""
        endpoint, deployment = self._names(desired.name)
        base = self._dir(ctx, endpoint, deployment)
        meta = read_json(base / "deployment.json") or {"generation": 0}
        old_gen = int(meta["generation"])
        new_gen = old_gen + 1
        stale = serving.Server.load(base / str(new_gen) / "server.json")
        if stale is not None:  # an earlier update that died half-way
            serving.stop(stale)
            serving.release_port(workspace_root(ctx), stale.port)
        remove_tree(base / str(new_gen))
        server = self._start(ctx, desired, base / str(new_gen))
        with routes(ctx, endpoint) as table:
            table["deployments"][deployment] = {"port": server.port}
        observed = self._save(ctx, desired, new_gen)
        old = serving.Server.load(base / str(old_gen) / "server.json")
        if old is not None:
            time.sleep(SWITCH_GRACE_S)
            serving.stop(old)
            serving.release_port(workspace_root(ctx), old.port)
        remove_tree(base / str(old_gen))
        return observed

    def delete(self, ctx: Context, current: Observed) -> None:
        parts = current.id.split("/")
        endpoint, deployment = parts[1], parts[3]
        if read_json(endpoint_dir(ctx, endpoint) / "routes.json") is not None:
            with routes(ctx, endpoint) as table:
                table["deployments"].pop(deployment, None)
                table["traffic"].pop(deployment, None)
        base = self._dir(ctx, endpoint, deployment)
        self._stop_all(ctx, base)
        remove_tree(base)

    @staticmethod
    def _stop_all(ctx: Context, base: Path) -> None:
        for server_file in base.glob("*/server.json"):
            server = serving.Server.load(server_file)
            if server is not None:
                serving.stop(server)
                serving.release_port(workspace_root(ctx), server.port)


def _model_reference(desired: Desired) -> Any:
    """A deployment's model as Azure ML reports it: a registered version, or for an inline model the
    anonymous version registered from its content (named after the content's digest, version 1)."""
    model = desired.spec.get("model")
    if not isinstance(model, dict):
        return model
    digest = desired.content.get("model.path", "")
    return f"azureml:{ANONYMOUS_PREFIX}{digest[:16]}:1"


ANONYMOUS_PREFIX = "anonymous-"


def _register_anonymous(ctx: Context, desired: Desired, reference: str) -> None:
    """Register an inline model's files as its anonymous version, once per content (like Azure ML)."""
    from mlplan.providers.local.assets import ModelType

    name = reference.removeprefix("azureml:").rsplit(":", 1)[0]
    models = ModelType()
    if models.lookup(ctx, name, "1") is not None:
        return  # the same content is registered already
    model = desired.spec["model"]
    inline = Desired(
        kind="model",
        name=name,
        spec={"path": model["path"], "type": model.get("type", "custom_model")},
        base_dir=desired.base_dir,
        version="1",
        content={"path": desired.content.get("model.path", "")},
        tags={k: v for k, v in desired.tags.items() if k in OWNERSHIP_TAGS},
        project=desired.project,
    )
    models.create(ctx, inline)


# -- traffic -----------------------------------------------------------------------------------------
class TrafficType(ResourceType):
    """An endpoint's traffic split: its own step, after the deployments it names."""

    kind = "traffic"
    id_format = "onlineEndpoints/<endpoint>/traffic"

    def desired_attributes(self, desired: Desired) -> dict[str, Any]:
        traffic = desired.spec.get("traffic") or {}
        return {"traffic": {str(k): int(v) for k, v in sorted(traffic.items()) if int(v) > 0}}

    def _observe(self, ctx: Context, endpoint: str) -> Observed | None:
        table = read_json(endpoint_dir(ctx, endpoint) / "routes.json")
        if table is None:
            return None
        traffic = {k: int(v) for k, v in sorted((table.get("traffic") or {}).items()) if int(v) > 0}
        return Observed(id=f"onlineEndpoints/{endpoint}/traffic", attributes={"traffic": traffic})

    def read(self, ctx: Context, ident: str) -> Observed | None:
        return self._observe(ctx, ident.split("/")[1])

    def lookup(self, ctx: Context, name: str, version: str | None) -> Observed | None:
        return self._observe(ctx, name)

    def create(self, ctx: Context, desired: Desired) -> Observed:
        wanted = self.desired_attributes(desired)["traffic"]
        with routes(ctx, desired.name) as table:
            missing = [d for d in wanted if d not in table.get("deployments", {})]
            if missing:
                raise ProviderError(f"traffic names deployments that do not exist: {', '.join(missing)}")
            table["traffic"] = wanted
        observed = self._observe(ctx, desired.name)
        assert observed is not None
        return observed

    def delete(self, ctx: Context, current: Observed) -> None:
        endpoint = current.id.split("/")[1]
        if read_json(endpoint_dir(ctx, endpoint) / "routes.json") is not None:
            with routes(ctx, endpoint) as table:
                table["traffic"] = {}
