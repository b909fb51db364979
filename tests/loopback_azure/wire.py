"""Requests, responses, Azure's error shape and the router of the loopback Azure."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Azure Resource Manager's error envelope: common-types/resource-management/v3/types.json#/definitions/ErrorResponse
# ({"error": {"code", "message", "target", "details", "additionalInfo"}}); every RP of this server answers with it.


class ApiError(Exception):
    """An Azure error answer: ``status`` with ``{"error": {"code": code, "message": message}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = details or []

    def response(self) -> Response:
        return Response(self.status, error_body(self.code, self.message, self.details), self.headers)


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or [], "additionalInfo": []}}


def not_found(kind: str, name: str) -> ApiError:
    """ARM's 404 for a resource that does not exist."""
    return ApiError(404, "ResourceNotFound", f"The Resource '{kind}/{name}' was not found.")


def bad_request(message: str, code: str = "BadRequest") -> ApiError:
    return ApiError(400, code, message)


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, without the query
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # "https://127.0.0.1:PORT" (no trailing slash)

    @classmethod
    def parse(cls, method: str, target: str, headers: Mapping[str, str], body: bytes, base_url: str) -> Request:
        split = urllib.parse.urlsplit(target)
        query = {k: v for k, v in urllib.parse.parse_qsl(split.query, keep_blank_values=True)}
        lower = {k.lower(): v for k, v in headers.items()}
        return cls(method.upper(), urllib.parse.unquote(split.path), query, lower, body, base_url)

    def json(self) -> Any:
        """The JSON body; Azure's 400 for anything else."""
        if not self.body:
            raise bad_request(
                "The request content was invalid and could not be deserialized: empty body.", "InvalidRequestContent"
            )
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise bad_request(
                f"The request content was invalid and could not be deserialized: {e}.", "InvalidRequestContent"
            ) from e

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise bad_request("The request content was invalid: a JSON object was expected.", "InvalidRequestContent")
        return body

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))

    def url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        """An absolute URL on this server."""
        q = f"?{urllib.parse.urlencode(dict(query))}" if query else ""
        return f"{self.base_url}{urllib.parse.quote(path)}{q}"


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able; None for no body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a non-JSON body (with its Content-Type in headers)

    def encode(self) -> tuple[bytes, str]:
        if self.raw is not None:
            return self.raw, self.headers.get("Content-Type", "application/octet-stream")
        if self.body is None:
            return b"", "application/json"
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


Handler = Callable[[Request, "re.Match[str]"], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    arm: bool  # an Azure Resource Manager route: api-version and a bearer token are required


class Router:
    """Routes by method and a path pattern. Patterns are matched case-insensitively, as ARM matches its paths."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler, *, arm: bool = True) -> None:
        self.routes.append(Route(method, re.compile(pattern, re.IGNORECASE), handler, arm))

    def match(self, req: Request) -> tuple[Route, re.Match[str]] | None:
        """The route for a request; ApiError 405 when the path is known but not the method."""
        path_known = False
        for route in self.routes:
            m = route.pattern.fullmatch(req.path)
            if m is None:
                continue
            if route.method == req.method:
                return route, m
            path_known = True
        if path_known:
            raise ApiError(405, "HttpMethodNotAllowed", f"The HTTP method '{req.method}' is not supported here.")
        return None


# Path building blocks shared by the resource providers.
NAME = r"[^/]+"
SUB_RG = rf"/subscriptions/(?P<sub>{NAME})/resourceGroups/(?P<rg>{NAME})"
WS = rf"{SUB_RG}/providers/Microsoft\.MachineLearningServices/workspaces/(?P<ws>{NAME})"


def require(body: dict[str, Any], paths: tuple[str, ...] | list[str]) -> None:
    """Azure ML's 400 for a body without a required property (``[Required]`` in mfe.json), naming every one."""
    missing = []
    for path in paths:
        node: Any = body
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            missing.append(path)
    if missing:
        raise ApiError(
            400,
            "UserError",
            "One or more validation errors occurred: " + "; ".join(f"the {p} field is required" for p in missing) + ".",
            details=[{"code": "Required", "target": p, "message": f"The {p} field is required."} for p in missing],
        )


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A deep merge (JSON merge patch without deletions): what ARM's PATCH does to a resource."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
