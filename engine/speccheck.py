"""Checking a resource file the way `az ml <kind> create -f` does, at plan time: unknown keys (with a did-you-mean),
wrong types, values outside an enum, references written without `azureml:`, and names Azure refuses.

The rules are azure-ai-ml's own marshmallow schemas, written out as JSON by scripts/gen-azureml-rules
(engine/schema/azureml/<stem>.json; index.json says which schema azure-ai-ml loads a file with). Reading them
costs no azure-ai-ml import. Each kind's rules are compiled once, on first use; a spec is walked once; line
numbers are only looked up for problems. Strings holding `${...}` (mlplan's own interpolation left unresolved,
Azure ML's `${{inputs.x}}` bindings) are never judged, and what a rule cannot tell statically is "any".
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
import string
from collections.abc import Callable, Iterable, Mapping
from importlib import resources as importlib_resources
from typing import Any, NamedTuple

from mlplan.core.errors import Diagnostic
from mlplan.engine.config import ResourceSpec

Path = tuple[str, ...]


class Problem(NamedTuple):
    path: Path  # of the offending key
    message: str
    hint: str
    covers: Path | None = None  # another key this problem accounts for (a misspelt required key)


Out = list[Problem]


def check(res: ResourceSpec, out: list[Diagnostic]) -> None:
    """Check ``res`` (a resource with a file of its own) against the rules of what azure-ai-ml loads it as; every
    problem goes into ``out`` with the file:line of its key, and its path into ``res.flagged``."""
    problems: Out = []
    rules = rules_for(res.address.kind, res.spec, problems)
    if rules is not None:
        rules.check(res.spec, problems)
    if problems:
        res.flagged = tuple(p.path for p in problems) + tuple(p.covers for p in problems if p.covers is not None)
        diags = [res.diag(p.message, p.path, p.hint) for p in problems]
        out.extend(sorted(diags, key=lambda d: d.line or 0))


def rules_for(kind: str, spec: Mapping[str, Any], out: Out) -> Rules | None:
    """The rules azure-ai-ml would load ``spec`` with (by its `type`, `task`, `compute` as azure-ai-ml decides); None
    when there are none (a kind or type azure-ai-ml has no loader for here). A dispatch field azure-ai-ml cannot
    load goes into ``out``."""
    fixed = _fixed_stem(kind)
    if fixed is not None:
        return rules(fixed)
    step: Any = index().get(kind)
    while isinstance(step, dict):
        field = step.get("by")
        if field is None:
            step = step["to"]
            continue
        value = spec.get(field)
        if "if_set" in step:
            step = step["if_set"] if value else step["else"]
            continue
        if value is None:
            value = step.get("default")
        if isinstance(value, str) and "${" in value:
            return None
        choices = step["to"]
        key = value.lower() if isinstance(value, str) and step.get("case") == "lower" else value
        if isinstance(key, str) and key in choices:
            step = choices[key]
        elif "else" in step:
            step = step["else"]
        else:
            allowed = ", ".join(sorted(choices))
            if value is None:
                out.append(Problem((field,), f"missing required key {field!r}", f"add `{field}:` (one of: {allowed})"))
            else:
                message = f"{field}: {value!r} is not one of {allowed}" + _did_you_mean(str(value), choices)
                out.append(Problem((field,), message, f"a {kind}'s {field} is one of: {allowed}"))
            return None
    return rules(step) if isinstance(step, str) else None


@functools.cache
def _fixed_stem(kind: str) -> str | None:
    """The rule file of a kind azure-ai-ml loads with one schema whatever the file says (data, model, ...)."""
    step = index().get(kind)
    return step["to"] if isinstance(step, dict) and "by" not in step and isinstance(step.get("to"), str) else None


@functools.cache
def _index_file() -> dict[str, Any]:
    return _read("index")


def index() -> dict[str, Any]:
    result: dict[str, Any] = _index_file()["dispatch"]
    return result


def kinds_for_type(value: str) -> list[str]:
    """The kinds whose files take ``type: <value>`` (any case), from the generated index: one for
    ``command`` (a job), two for ``kubernetes`` (a compute or an online deployment), none for an unknown value."""
    found: list[str] = _index_file()["kinds_by_type"].get(value.lower(), [])
    return found


@functools.cache
def rules(stem: str) -> Rules:
    """The compiled rules of one rule file (cached: compiled once per process)."""
    return Rules(_read(stem))


def _read(stem: str) -> dict[str, Any]:
    text = importlib_resources.files("mlplan.engine").joinpath(f"schema/azureml/{stem}.json").read_text()
    result: dict[str, Any] = json.loads(text)
    return result


class Rules:
    """One rule file, compiled: the root schema, the schemas it nests, the name rules."""

    def __init__(self, doc: dict[str, Any]) -> None:
        booleans = doc["booleans"]
        self.compiler = _Compiler(doc["defs"], frozenset(booleans["truthy"]), frozenset(booleans["falsy"]))
        self.root = Obj(self.compiler.schema(doc["root"]), doc["unknown"], root=True)
        self.names = {field: NameRule(rule) for field, rule in (doc.get("names") or {}).items()}

    def check(self, spec: Mapping[str, Any], out: Out) -> None:
        named: set[Path] = set()
        for field, rule in self.names.items():
            value = spec.get(field)
            if isinstance(value, str) and "${" not in value and rule.check(field, value, out):
                named.add((field,))
        if not named:
            self.root.check(spec, (), out)
            return
        problems: Out = []
        self.root.check(spec, (), problems)
        # the schema's own pattern for a name says less than the name rule: one problem, the rule's
        out.extend(p for p in problems if p.path not in named)


class NameRule:
    def __init__(self, rule: dict[str, Any]) -> None:
        self.min, self.max, self.says = rule["min"], rule["max"], rule["says"]
        self.pattern = re.compile(rule["pattern"])

    def check(self, field: str, value: str, out: Out) -> bool:
        """Whether ``value`` breaks the rule (the problem goes into ``out``)."""
        if self.min <= len(value) <= self.max and self.pattern.match(value):
            return False
        out.append(
            Problem(
                (field,),
                f"{field}: {value!r} is a name Azure refuses: {self.says}",
                "rename it: Azure would refuse to create it",
            )
        )
        return True


# -- nodes -------------------------------------------------------------------------------------------
class Node:
    """One field's rule. ``accepts`` are the Python types it may take (unions try only those that may); a value
    whose exact type is in ``fine`` needs no look at all (the fast path of a spec without problems)."""

    accepts: tuple[type, ...] = ()
    fine: frozenset[type] = frozenset()
    says = "anything"

    def check(self, value: Any, path: Path, out: Out) -> None:
        raise NotImplementedError

    def wrong(self, value: Any, path: Path, out: Out, says: str | None = None) -> None:
        what = says or self.says
        hint = f"write {what} (see the Azure ML CLI v2 YAML reference for {_dotted(path)})"
        if isinstance(value, int | float) and not isinstance(value, bool) and "string" in what:
            hint = f'quote it: {_dotted(path)}: "{value}"'
        out.append(Problem(path, f"{_dotted(path)}: {_show(value)} is not {what}", hint))


class Any_(Node):
    def check(self, value: Any, path: Path, out: Out) -> None:
        pass


ANY = Any_()


class Str(Node):
    accepts: tuple[type, ...] = (str,)
    says = "a string"

    def __init__(self, node: dict[str, Any]) -> None:
        self.prefix = tuple(node.get("prefix", ()))
        self.pattern = re.compile(node["pattern"]) if "pattern" in node else None
        self.min_len, self.max_len = node.get("min_len"), node.get("max_len")
        self.says = node.get("says") or ("a string" if self.pattern is None else f"a string matching {node['pattern']}")
        unconstrained = not self.prefix and self.pattern is None and self.min_len is None and self.max_len is None
        self.fine = frozenset({str}) if unconstrained else frozenset()

    def check(self, value: Any, path: Path, out: Out) -> None:
        if not isinstance(value, str):
            self.wrong(value, path, out)
        elif "${" in value:
            return
        elif (self.prefix and not value.startswith(self.prefix)) or (self.pattern and not self.pattern.search(value)):
            self.wrong(value, path, out)
        elif (self.min_len is not None and len(value) < self.min_len) or (
            self.max_len is not None and len(value) > self.max_len
        ):
            self.wrong(value, path, out, f"{self.min_len or 0}-{self.max_len or '...'} characters long")


class Int(Node):
    says = "a whole number"

    def __init__(self, node: dict[str, Any]) -> None:
        self.strict = node.get("strict", False)
        # marshmallow's Integer: strict takes integers only; else anything int() takes (3.5 becomes 3, as in the SDK)
        self.accepts = (int,) if self.strict else (int, float, str)
        self.min, self.max = node.get("min"), node.get("max")
        self.fine = frozenset({int}) if self.min is None and self.max is None else frozenset()

    def check(self, value: Any, path: Path, out: Out) -> None:
        if isinstance(value, bool):
            self.wrong(value, path, out)
            return
        if isinstance(value, str) and "${" in value:
            return
        if not isinstance(value, int):
            if self.strict or not isinstance(value, float | str):
                self.wrong(value, path, out)
                return
            try:
                value = int(value)
            except (ValueError, OverflowError):
                self.wrong(value, path, out)
                return
        _range(self, value, path, out)


class Float(Node):
    says = "a number"

    def __init__(self, node: dict[str, Any]) -> None:
        self.strict = node.get("strict", False)
        # a strict DumpableFloatField takes floats only; marshmallow's Float anything float() takes, but nan/inf
        self.accepts = (float,) if self.strict else (int, float, str)
        self.min, self.max = node.get("min"), node.get("max")

    def check(self, value: Any, path: Path, out: Out) -> None:
        if isinstance(value, str) and "${" in value:
            return
        if isinstance(value, bool) or not isinstance(value, int | float | str) or not isinstance(value, self.accepts):
            self.wrong(value, path, out)
            return
        try:
            number = float(value)
        except (ValueError, OverflowError):
            self.wrong(value, path, out)
            return
        if math.isnan(number) or math.isinf(number):
            self.wrong(value, path, out, "a finite number")
            return
        _range(self, number, path, out)


def _range(node: Int | Float, value: float, path: Path, out: Out) -> None:
    if (node.min is not None and value < node.min) or (node.max is not None and value > node.max):
        node.wrong(value, path, out, f"between {node.min} and {node.max}")


class Bool(Node):
    accepts = (bool, int, str)
    fine = frozenset({bool})
    says = "true or false"

    def __init__(self, truthy: frozenset[Any], falsy: frozenset[Any]) -> None:
        self.allowed = truthy | falsy

    def check(self, value: Any, path: Path, out: Out) -> None:
        if isinstance(value, bool) or (isinstance(value, str) and "${" in value):
            return
        try:
            ok = value in self.allowed
        except TypeError:  # unhashable
            ok = False
        if not ok:
            self.wrong(value, path, out)


# What azure-ai-ml's StringTransformedEnum does to a value before it looks it up (azure/ai/ml/_utils/utils.py).
def _csv(convert: Callable[[str], str]) -> Callable[[str], str | None]:
    def run(text: str) -> str | None:
        if not text:
            return None
        return ",".join(convert(t.strip()) for t in text.split(",")) if "," in text else convert(text)

    return run


def _camel_to_snake(text: str) -> str:
    text = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", text)
    return re.sub("([a-z0-9])([A-Z])", r"\1_\2", text).lower()


CASINGS: dict[str, Callable[[str], str | None]] = {
    "exact": lambda x: x,
    "lower": str.lower,
    "upper": str.upper,
    "camel_to_snake": _csv(_camel_to_snake),
    "snake_to_camel": lambda x: re.sub("_([a-zA-Z0-9])", lambda m: m.group(1).upper(), x) if x else None,
    "snake_to_pascal": _csv(lambda x: string.capwords(x.replace("_", " ")).replace(" ", "")),
}


class Enum(Node):
    accepts = (str,)

    def __init__(self, node: dict[str, Any]) -> None:
        self.values = list(node["values"])
        self.allowed = frozenset(self.values)
        self.case = node["case"]
        self.transform = CASINGS[self.case]
        self.says = "one of " + ", ".join(self.values)

    def check(self, value: Any, path: Path, out: Out) -> None:
        if isinstance(value, str):
            if "${" in value or self.transform(value) in self.allowed:
                return
            guess = self.transform(value) or value
            message = f"{_dotted(path)}: {_show(value)} is not {self.says}" + _did_you_mean(guess, self.values)
            casing = " (case does not matter)" if self.case in ("lower", "upper", "camel_to_snake") else ""
            out.append(Problem(path, message, f"use one of: {', '.join(self.values)}{casing}"))
        else:
            self.wrong(value, path, out)


class Ref(Node):
    """A reference to something registered in the workspace (azure-ai-ml's ArmStr / ArmVersionedStr)."""

    accepts = (str,)

    def __init__(self, node: dict[str, Any]) -> None:
        asset = str(node.get("asset") or "asset")
        self.asset = asset if asset == "data" else asset.removesuffix("s")
        self.versioned = node.get("versioned", False)
        self.default_version = node.get("default_version", False)
        self.says = f"a reference to a registered {self.asset} (azureml:<name>:<version> or azureml:<name>@<label>)"

    def check(self, value: Any, path: Path, out: Out) -> None:
        if not isinstance(value, str):
            self.wrong(value, path, out)
        elif "${" in value:
            return
        elif not value.startswith("azureml:"):
            out.append(
                Problem(
                    path,
                    f"{_dotted(path)}: {_show(value)} is not a reference: a registered {self.asset} is written"
                    f" azureml:{value}",
                    f"write {_dotted(path)}: azureml:{value} (azureml:<name>:<version> or azureml:<name>@latest)",
                )
            )
        elif self.versioned and not self.default_version:
            rest = value.removeprefix("azureml:")
            if not rest.startswith("/") and not ("@" in rest or ":" in rest):
                out.append(
                    Problem(
                        path,
                        f"{_dotted(path)}: {_show(value)} names no version or label",
                        f"write azureml:{rest}:<version> or azureml:{rest}@latest",
                    )
                )


class Binding(Node):
    accepts = (str,)
    says = "a binding such as ${{parent.inputs.x}}"

    def check(self, value: Any, path: Path, out: Out) -> None:
        if not (isinstance(value, str) and "${" in value):
            self.wrong(value, path, out)


class Version(Node):
    accepts = (str, int, float)
    fine = frozenset({str, int, float})
    says = "a version (a string or a number)"

    def check(self, value: Any, path: Path, out: Out) -> None:
        if not isinstance(value, str | int | float):
            self.wrong(value, path, out)


class List(Node):
    accepts = (list,)

    def __init__(self, of: Node) -> None:
        self.of = of
        self.says = "a list"

    def check(self, value: Any, path: Path, out: Out) -> None:
        if not isinstance(value, list):
            if not (isinstance(value, str) and "${" in value):
                self.wrong(value, path, out)
            return
        of = self.of
        if of is ANY:
            return
        fine = of.fine
        for i, item in enumerate(value):
            if item is not None and type(item) not in fine:
                of.check(item, (*path, str(i)), out)


class Dict(Node):
    accepts = (dict,)
    says = "a mapping"

    def __init__(self, values: Node) -> None:
        self.values = values
        if values is ANY:
            self.fine = frozenset({dict})

    def check(self, value: Any, path: Path, out: Out) -> None:
        if not isinstance(value, dict):
            if not (isinstance(value, str) and "${" in value):
                self.wrong(value, path, out)
            return
        values = self.values
        if values is ANY:
            return
        fine = values.fine
        for key, item in value.items():
            if item is not None and type(item) not in fine:
                values.check(item, (*path, str(key)), out)


class Schema:
    """A marshmallow schema: its keys and what each takes (filled in after creation: schemas nest themselves)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[str, Node] = {}
        self.required: tuple[str, ...] = ()
        self.ignored: frozenset[str] = frozenset()
        self.aliases: dict[str, str] = {}
        self.file_ok = False
        self.type_values: frozenset[str] | None = None  # what its `type` enum takes, to tell union members apart

    def allowed(self) -> list[str]:
        return sorted(set(self.fields) | set(self.aliases))


class Obj(Node):
    accepts: tuple[type, ...] = (dict,)

    def __init__(self, schema: Schema, unknown: str, root: bool = False) -> None:
        self.schema = schema
        self.raise_unknown = unknown == "raise"
        self.root = root
        if schema.file_ok:
            self.accepts = (dict, str)
        self.says = "a mapping"

    def check(self, value: Any, path: Path, out: Out) -> None:
        schema = self.schema
        if not isinstance(value, dict):
            if isinstance(value, str) and ("${" in value or (schema.file_ok and value.startswith("file:"))):
                return
            self.wrong(value, path, out, "a mapping" + (" or file:<path of a YAML file>" if schema.file_ok else ""))
            return
        fields = schema.fields
        unknown: list[str] = []
        for key, item in value.items():
            node = fields.get(key)
            if node is None:
                alias = schema.aliases.get(key)
                if alias is not None:
                    node = fields[alias]
                elif key in schema.ignored or (self.root and key == "$schema") or not self.raise_unknown:
                    continue
                else:
                    unknown.append(str(key))  # YAML keys may be numbers or booleans
                    continue
            if item is not None and node is not ANY and type(item) not in node.fine:
                node.check(item, (*path, key), out)
        guessed: set[str] = set()
        for key in unknown:
            candidates = [k for k in schema.allowed() if k not in value]
            guess = difflib.get_close_matches(key, candidates, n=1)
            guessed.update(guess)
            out.append(
                Problem(
                    (*path, key),
                    f"{_dotted((*path, key))}: unknown key" + (f"; did you mean {guess[0]}?" if guess else ""),
                    f"azure-ai-ml's {schema.name} takes: {', '.join(schema.allowed())}",
                    (*path, guess[0]) if guess else None,
                )
            )
        for key in schema.required:
            # a misspelt required key is one problem (its did-you-mean), not two
            if key not in value and key not in guessed:
                where = _dotted(path) + ": " if path else ""
                out.append(Problem((*path, key), f"{where}missing required key {key!r}", f"add `{key}:`"))


class Union(Node):
    """Any one of several rules (azure-ai-ml's UnionField): fine if one takes the value; else the problems of the
    member that fits best (a mapping's `type` picks the member; else the one with the fewest problems)."""

    def __init__(self, members: list[Node]) -> None:
        self.members = members
        self.accepts = tuple({t for m in members for t in m.accepts})
        self.says = " or ".join(dict.fromkeys(m.says for m in members))

    def check(self, value: Any, path: Path, out: Out) -> None:
        if isinstance(value, str) and "${" in value:
            return
        fitting = [m for m in self.members if isinstance(value, m.accepts)]
        if not fitting:
            self.wrong(value, path, out)
            return
        if len(fitting) == 1:
            fitting[0].check(value, path, out)
            return
        tried: list[tuple[int, Out]] = []
        for rank, member in enumerate(fitting):
            trial: Out = []
            member.check(value, path, trial)
            if not trial:
                return
            tried.append((rank, trial))
        if (
            isinstance(value, dict)
            and isinstance(value.get("type"), str)
            and self._wrong_type(value, path, fitting, out)
        ):
            return
        out.extend(min(tried, key=lambda t: (self._distance(fitting[t[0]], value), len(t[1]), t[0]))[1])

    @staticmethod
    def _distance(member: Node, value: Any) -> int:
        """0 for a mapping member whose `type` takes the value's `type`; references before other strings."""
        if isinstance(member, Obj) and isinstance(value, dict):
            types = member.schema.type_values
            return 0 if types is not None and str(value.get("type")).lower() in types else 1
        return 0 if isinstance(member, Ref) else 1

    @staticmethod
    def _wrong_type(value: dict[str, Any], path: Path, members: Iterable[Node], out: Out) -> bool:
        """A `type` none of the mapping members takes: one problem naming every type they do take."""
        types: set[str] = set()
        for m in members:
            if isinstance(m, Obj) and m.schema.type_values is not None:
                types |= m.schema.type_values
            elif isinstance(m, Obj | Dict):
                return False  # a member that takes any type: not a type mistake
        if not types or str(value["type"]).lower() in types:
            return False
        allowed = sorted(types)
        message = f"{_dotted((*path, 'type'))}: {_show(value['type'])} is not one of {', '.join(allowed)}"
        hint = f"use one of: {', '.join(allowed)}"
        out.append(Problem((*path, "type"), message + _did_you_mean(value["type"], allowed), hint))
        return True


# -- compiling ---------------------------------------------------------------------------------------
class _Compiler:
    def __init__(self, defs: dict[str, Any], truthy: frozenset[Any], falsy: frozenset[Any]) -> None:
        self.defs = defs
        self.schemas: dict[str, Schema] = {}
        self.bool = Bool(truthy, falsy)

    def schema(self, name: str) -> Schema:
        found = self.schemas.get(name)
        if found is not None:
            return found
        schema = self.schemas[name] = Schema(self.defs[name]["schema"])
        d = self.defs[name]
        schema.fields = {key: self.node(n) for key, n in d["fields"].items()}
        schema.required = tuple(d.get("required", ()))
        schema.ignored = frozenset(d.get("ignored", ()))
        schema.aliases = dict(d.get("aliases", {}))
        schema.file_ok = bool(d.get("file_ok"))
        type_node = schema.fields.get("type")
        if isinstance(type_node, Enum):
            schema.type_values = frozenset(v.lower() for v in type_node.values)
        return schema

    def node(self, n: Any) -> Node:
        if n == "any":
            return ANY
        t = n["t"]
        if t == "str":
            return Str(n)
        if t == "int":
            return Int(n)
        if t in ("float", "number"):
            return Float(n)
        if t == "bool":
            return Bool(frozenset(n["truthy"]), frozenset(n["falsy"])) if "truthy" in n else self.bool
        if t == "enum":
            return Enum(n)
        if t == "ref":
            return Ref(n)
        if t == "binding":
            return Binding()
        if t == "version":
            return Version()
        if t == "list":
            return List(self.node(n["of"]))
        if t == "dict":
            return Dict(self.node(n["values"]) if "values" in n else ANY)
        if t == "obj":
            return Obj(self.schema(n["ref"]), n["unknown"])
        if t == "union":
            return Union([self.node(m) for m in n["of"]])
        raise ValueError(f"unknown rule type {t!r}: regenerate the rules with scripts/gen-azureml-rules")


# -- messages ----------------------------------------------------------------------------------------
def _dotted(path: Path) -> str:
    return ".".join(path) or "the file"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    guess = difflib.get_close_matches(value, list(choices), n=1)
    return f"; did you mean {guess[0]}?" if guess else ""
