"""ARM templates: parameters, variables, resources and outputs, with a subset of the template functions.

Enough for the templates mlplan projects carry (``.cloud/``, ``infra/``): ``parameters``, ``variables``,
``resourceGroup``, ``subscription``, ``deployment``, ``concat``, ``format``, ``toLower``, ``toUpper``, ``replace``,
``substring``, ``uniqueString``, ``guid``, ``resourceId``, ``string``, ``int``, ``bool``, ``json``, ``if``,
``equals``, ``not``, ``and``, ``or``, ``empty``, ``length``, ``union``, ``createObject``, ``createArray``,
``true``, ``false``, ``null``, property access (``.name``, ``['x']``, ``[0]``), child ``resources`` and
``condition``. Anything else (``copy`` loops, ``reference``, ``listKeys``, symbolic names) is refused with
InvalidTemplate naming it, as ARM refuses what it cannot evaluate.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class TemplateError(Exception):
    """What ARM reports as InvalidTemplate."""


@dataclass
class Scope:
    subscription_id: str
    resource_group: str
    location: str
    deployment: str
    tenant: str
    parameters: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)  # raw, evaluated on first use
    _evaluated: dict[str, Any] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)

    @property
    def rg_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"


# parsing -----------------------------------------------------------------------------------------------------

TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[().,\[\]]))")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if m is None:
            raise TemplateError(f"The template language expression '{text}' is not valid at position {pos}.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, scope: Scope, evaluate: Callable[[Any, Scope], Any]) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.scope = scope
        self.evaluate = evaluate

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise TemplateError(f"The template language expression '{self.text}' is not valid.")
        self.i += 1
        return tok

    def parse(self) -> Any:
        value = self.expression()
        if self.peek() is not None:
            raise TemplateError(f"The template language expression '{self.text}' is not valid.")
        return value

    def expression(self) -> Any:
        kind, tok = self.take()
        if kind == "str":
            value: Any = tok[1:-1].replace("''", "'")
        elif kind == "num":
            value = int(tok)
        elif kind == "name":
            self.take("(")
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.expression())
                if self.peek() == ("op", ","):
                    self.take(",")
            self.take(")")
            value = call(tok, args, self.scope, self.evaluate)
        else:
            raise TemplateError(f"The template language expression '{self.text}' is not valid.")
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                value = _member(value, self.take()[1])
            else:
                key = self.expression()
                self.take("]")
                value = _member(value, key)
        return value


def _member(value: Any, key: Any) -> Any:
    try:
        if isinstance(value, dict):
            lowered = {str(k).lower(): v for k, v in value.items()}
            return lowered[str(key).lower()]
        if isinstance(value, list) and isinstance(key, int):
            return value[key]
    except (KeyError, IndexError):
        pass
    raise TemplateError(f"The language expression property '{key}' doesn't exist.")


def _unique(*parts: Any) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "".join(alphabet[b % 32] for b in digest[:13])


def call(name: str, args: list[Any], scope: Scope, evaluate: Callable[[Any, Scope], Any]) -> Any:
    fn = name.lower()
    if fn == "parameters":
        if args[0] not in scope.parameters:
            raise TemplateError(f"The template parameter '{args[0]}' is not found.")
        return scope.parameters[args[0]]
    if fn == "variables":
        return _variable(str(args[0]), scope, evaluate)
    simple: dict[str, Callable[[], Any]] = {
        "resourcegroup": lambda: {
            "id": scope.rg_id,
            "name": scope.resource_group,
            "location": scope.location,
            "type": "Microsoft.Resources/resourceGroups",
            "properties": {},
        },
        "subscription": lambda: {
            "id": f"/subscriptions/{scope.subscription_id}",
            "subscriptionId": scope.subscription_id,
            "tenantId": scope.tenant,
        },
        "deployment": lambda: {"name": scope.deployment},
        "concat": lambda: (
            list(itertools.chain.from_iterable(args))
            if args and all(isinstance(a, list) for a in args)
            else "".join(_text(a) for a in args)
        ),
        "format": lambda: re.sub(r"\{(\d+)\}", lambda m: _text(args[1 + int(m[1])]), str(args[0])),
        "tolower": lambda: str(args[0]).lower(),
        "toupper": lambda: str(args[0]).upper(),
        "replace": lambda: str(args[0]).replace(str(args[1]), str(args[2])),
        "substring": lambda: str(args[0])[int(args[1]) : int(args[1]) + int(args[2]) if len(args) > 2 else None],
        "uniquestring": lambda: _unique(*args),
        "guid": lambda: str(uuid.UUID(hashlib.md5("|".join(map(str, args)).encode()).hexdigest())),
        "resourceid": lambda: _resource_id_fn(args, scope),
        "string": lambda: args[0] if isinstance(args[0], str) else json.dumps(args[0]),
        "int": lambda: int(args[0]),
        "bool": lambda: args[0] if isinstance(args[0], bool) else str(args[0]).lower() == "true",
        "json": lambda: json.loads(args[0]),
        "if": lambda: args[1] if args[0] else args[2],
        "equals": lambda: args[0] == args[1],
        "not": lambda: not args[0],
        "and": lambda: all(args),
        "or": lambda: any(args),
        "empty": lambda: not args[0],
        "length": lambda: len(args[0]),
        "union": lambda: (
            {k: v for a in args for k, v in a.items()}
            if isinstance(args[0], dict)
            else list(dict.fromkeys(x for a in args for x in a))
        ),
        "createobject": lambda: dict(zip(args[::2], args[1::2], strict=True)),
        "createarray": lambda: list(args),
        "true": lambda: True,
        "false": lambda: False,
        "null": lambda: None,
    }
    if fn not in simple:
        raise TemplateError(f"The template function '{name}' is not supported by the loopback Azure.")
    try:
        return simple[fn]()
    except (IndexError, TypeError, ValueError, KeyError) as e:
        raise TemplateError(f"The template function '{name}' got invalid arguments: {e}.") from e


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _variable(name: str, scope: Scope, evaluate: Callable[[Any, Scope], Any]) -> Any:
    if name in scope._evaluated:
        return scope._evaluated[name]
    if name not in scope.variables:
        raise TemplateError(f"The template variable '{name}' is not found.")
    if name in scope._evaluating:
        raise TemplateError(f"The template variable '{name}' refers to itself.")
    scope._evaluating.add(name)
    scope._evaluated[name] = evaluate(scope.variables[name], scope)
    scope._evaluating.discard(name)
    return scope._evaluated[name]


def _resource_id_fn(args: list[Any], scope: Scope) -> str:
    args = [str(a) for a in args]
    type_at = next((i for i, a in enumerate(args) if "/" in a and "." in a.split("/")[0]), None)
    if type_at is None:
        raise TemplateError("resourceId() needs a resource type such as 'Microsoft.Storage/storageAccounts'.")
    sub, rg = scope.subscription_id, scope.resource_group
    if type_at == 2:
        sub, rg = args[0], args[1]
    elif type_at == 1:
        rg = args[0]
    return resource_id(f"/subscriptions/{sub}/resourceGroups/{rg}", args[type_at], "/".join(args[type_at + 1 :]))


def resource_id(rg_id: str, type_: str, name: str) -> str:
    """``Microsoft.X/a/b`` named ``n1/n2`` -> ``<rg>/providers/Microsoft.X/a/n1/b/n2``."""
    namespace, *types = type_.split("/")
    names = name.split("/")
    if not types or len(types) != len(names):
        raise TemplateError(f"The resource name '{name}' does not match the segments of its type '{type_}'.")
    return f"{rg_id}/providers/{namespace}/" + "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))


def evaluate(value: Any, scope: Scope) -> Any:
    """A template value with every ``[expression]`` in it evaluated."""
    if isinstance(value, str):
        if value.startswith("[[") and value.endswith("]"):
            return value[1:]
        if value.startswith("[") and value.endswith("]"):
            return _Parser(value[1:-1], scope, evaluate).parse()
        return value
    if isinstance(value, list):
        return [evaluate(v, scope) for v in value]
    if isinstance(value, dict):
        return {evaluate(k, scope): evaluate(v, scope) for k, v in value.items()}
    return value


# the template as a whole ---------------------------------------------------------------------------------------

ARM_TYPES = {
    "string": "String",
    "securestring": "SecureString",
    "int": "Int",
    "bool": "Bool",
    "object": "Object",
    "secureobject": "SecureObject",
    "array": "Array",
}
RESOURCE_FIELDS = ("location", "tags", "sku", "kind", "identity", "properties", "zones", "plan")


@dataclass
class Evaluated:
    resources: list[dict[str, Any]]  # each: id, name, type, apiVersion and the RESOURCE_FIELDS it sets
    outputs: dict[str, dict[str, Any]]  # {"name": {"type": "String", "value": ...}}
    parameters: dict[str, dict[str, Any]]  # as DeploymentExtended shows them


def bind_parameters(template: dict[str, Any], given: dict[str, Any], scope: Scope) -> dict[str, dict[str, Any]]:
    declared = template.get("parameters") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise TemplateError(
            f"The template parameters '{', '.join(unknown)}' in the parameters file are not valid; "
            "they are not present in the original template."
        )
    shown: dict[str, dict[str, Any]] = {}
    for name, decl in declared.items():
        arm_type = ARM_TYPES.get(str(decl.get("type", "")).lower())
        if arm_type is None:
            raise TemplateError(f"The template parameter '{name}' has an invalid type '{decl.get('type')}'.")
        if name in given:
            entry = given[name]
            if not isinstance(entry, dict) or "value" not in entry:
                raise TemplateError(
                    f"The value of the template parameter '{name}' must be given as "
                    '{"value": ...} (Key Vault references are not supported by the loopback).'
                )
            value = entry["value"]
        elif "defaultValue" in decl:
            value = evaluate(decl["defaultValue"], scope)
        else:
            raise TemplateError(f"The value for the template parameter '{name}' is not provided.")
        allowed = decl.get("allowedValues")
        if allowed is not None and value not in allowed:
            raise TemplateError(
                f"The provided value '{value}' for the template parameter '{name}' is not valid. "
                f"The value must be one of {allowed}."
            )
        expected = {
            "String": str,
            "SecureString": str,
            "Int": int,
            "Bool": bool,
            "Object": dict,
            "SecureObject": dict,
            "Array": list,
        }[arm_type]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise TemplateError(f"The provided value for the template parameter '{name}' is not a valid {arm_type}.")
        scope.parameters[name] = value
        shown[name] = {"type": arm_type} if arm_type.startswith("Secure") else {"type": arm_type, "value": value}
    return shown


def evaluate_template(template: Any, given: dict[str, Any], scope: Scope) -> Evaluated:
    if not isinstance(template, dict):
        raise TemplateError("The template must be a JSON object.")
    if isinstance(template.get("resources"), dict):
        raise TemplateError("Symbolic resource names (languageVersion 2.0) are not supported by the loopback Azure.")
    shown = bind_parameters(template, given or {}, scope)
    scope.variables = dict(template.get("variables") or {})
    if "copy" in scope.variables:
        raise TemplateError("Variable copy loops are not supported by the loopback Azure.")
    resources: list[dict[str, Any]] = []
    for raw in template.get("resources") or []:
        _add_resource(raw, None, scope, resources)
    outputs = {}
    for name, decl in (template.get("outputs") or {}).items():
        arm_type = ARM_TYPES.get(str(decl.get("type", "")).lower(), "String")
        outputs[name] = {"type": arm_type, "value": evaluate(decl.get("value"), scope)}
    return Evaluated(resources, outputs, shown)


def _add_resource(raw: Any, parent: dict[str, Any] | None, scope: Scope, out: list[dict[str, Any]]) -> None:
    if not isinstance(raw, dict):
        raise TemplateError("Each template resource must be a JSON object.")
    if "copy" in raw:
        raise TemplateError("Resource copy loops are not supported by the loopback Azure.")
    missing = [f for f in ("type", "apiVersion", "name") if f not in raw]
    if missing:
        raise TemplateError(f"A template resource is missing the required property '{missing[0]}'.")
    if "condition" in raw and not evaluate(raw["condition"], scope):
        return
    type_, name = str(evaluate(raw["type"], scope)), str(evaluate(raw["name"], scope))
    if parent is not None and "/" not in type_:  # a child resource's type and name are relative to its parent's
        type_, name = f"{parent['type']}/{type_}", f"{parent['name']}/{name}"
    resource: dict[str, Any] = {
        "id": resource_id(scope.rg_id, type_, name),
        "name": name,
        "type": type_,
        "apiVersion": raw["apiVersion"],
    }
    for key in RESOURCE_FIELDS:
        if key in raw:
            resource[key] = evaluate(raw[key], scope)
    out.append(resource)
    for child in raw.get("resources") or []:
        _add_resource(child, resource, scope, out)
