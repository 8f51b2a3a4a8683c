"""The JSON Schemas in ``schemas/``: the one source of truth for every body's shape.

Two validators are built from the same files. fastjsonschema compiles each
schema to Python and answers "valid?" in microseconds, so a good request pays
almost nothing; only a bad one is run through jsonschema, which lists every
error with its path, for the ``details`` of a 400/422.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from .errors import Detail

BASE_URI = "https://apollo-fake.example/schemas/"


def schema_dir() -> Path:
    """Return the folder holding the schemas: packaged in a wheel, at the root in a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "schemas"
    return packaged if packaged.is_dir() else here.parent / "schemas"


@functools.cache
def load(name: str) -> dict[str, Any]:
    """Return the schema document of that file name (``project-page-response.schema.json``)."""
    doc: dict[str, Any] = orjson.loads((schema_dir() / name).read_bytes())
    return doc


def names() -> list[str]:
    """List the schema files, sorted."""
    return sorted(p.name for p in schema_dir().glob("*.schema.json"))


def _by_uri(uri: str) -> dict[str, Any]:
    if not uri.startswith(BASE_URI):
        raise LookupError(f"apollo-fake resolves only its own schemas, not {uri}")
    return load(uri[len(BASE_URI) :].split("#", 1)[0])


def _root(name: str) -> dict[str, Any]:
    # "control.schema.json#/$defs/fault-request" names a definition inside a file.
    return {"$ref": BASE_URI + name} if "#" in name else load(name)


def _is_date(value: object) -> bool:
    """Tell whether a string is a real calendar date written YYYY-MM-DD."""
    if not isinstance(value, str):
        return True  # formats apply to strings only; `type` judges the rest
    try:
        return len(value) == 10 and datetime.date.fromisoformat(value) is not None
    except ValueError:
        return False


def _is_timestamp(value: object) -> bool:
    """Tell whether a string is a real UTC time written YYYY-MM-DD HH:MM:SS."""
    if not isinstance(value, str):
        return True
    try:
        return (
            len(value) == 19 and datetime.datetime.strptime(value, "%Y-%m-%d %H:%M:%S") is not None
        )
    except ValueError:
        return False


# The calendar checks both validators share, so that they never disagree.
FORMATS: dict[str, Callable[[object], bool]] = {"date": _is_date, "timestamp": _is_timestamp}


def _resolve(ref: str, owner: str) -> tuple[Any, str]:
    """Return what a $ref names, and the file it is in."""
    file_part, _, pointer = ref.partition("#")
    owner = file_part.rsplit("/", 1)[-1] or owner
    target: Any = load(owner)
    for part in pointer.strip("/").split("/"):
        if part:
            target = target[part.replace("~1", "/").replace("~0", "~")]
    return target, owner


def _inlined(schema: Any, owner: str) -> Any:
    """Copy a schema with every $ref replaced by what it names (the schemas have no cycles)."""
    if isinstance(schema, list):
        return [_inlined(item, owner) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _inlined(v, owner) for k, v in schema.items() if k not in ("$ref", "$id", "$schema")}
    if "$ref" in schema:
        target, where = _resolve(schema["$ref"], owner)
        resolved = _inlined(target, where)
        if not out:
            return resolved
        out.setdefault("allOf", []).append(resolved)
    return out


@functools.cache
def fast_validator(name: str) -> Callable[[Any], Any]:
    """Return a compiled validator that raises on the first error."""
    import fastjsonschema

    # Inlined: fastjsonschema calls a function per $ref and builds each call's
    # error name with str.format(**locals()), a cost paid for every fixture entry.
    schema = _inlined(_root(name), name.partition("#")[0])
    try:
        # Without detailed exceptions: only "valid or not" is read from it (jsonschema
        # explains the errors), and the code is much smaller, so every create spends
        # less time in it.
        return fastjsonschema.compile(
            schema, formats=FORMATS, use_formats=True, detailed_exceptions=False
        )
    except (TypeError, KeyError):
        # TypeError: fastjsonschema before 2.21 has no such option. KeyError: 2.21-2.22
        # cannot write a `const` check without its details ('definition_rule').
        # Either way, the detailed form; a genuine error raises again here.
        return fastjsonschema.compile(schema, formats=FORMATS, use_formats=True)


@functools.cache
def _invalid() -> type[Exception]:
    # Imported on first use, as the validators are: not at start-up.
    from fastjsonschema import JsonSchemaValueException

    return JsonSchemaValueException


@functools.cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    # JSON Schema patterns are ECMA-262, where `$` matches only at the very end;
    # Python's `$` also matches before a final newline, which would let "3600\n" in.
    return re.compile(re.sub(r"(?<!\\)\$", r"\\Z", pattern))


@functools.cache
def full_validator(name: str) -> Any:
    """Return a jsonschema validator that lists every error."""
    import jsonschema
    from jsonschema import validators
    from referencing import Registry
    from referencing.jsonschema import DRAFT202012

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not _ecma_regex(patrn).search(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    def not_(validator: Any, not_schema: Any, instance: Any, schema: Any) -> Iterator[Any]:
        # jsonschema's own, but for the error that shows the instance valid under
        # not_schema: dropped here with its links cut (see _cut_links), not left in
        # a cycle with the instance (a whole request body) for the collector.
        error = next(validator.evolve(schema=not_schema).iter_errors(instance), None)
        if error is None:
            yield jsonschema.ValidationError(
                f"{instance!r} should not be valid under {not_schema!r}"
            )
        else:
            _cut_links([error])

    def dialectless(doc: dict[str, Any]) -> dict[str, Any]:
        # Every file is draft 2020-12; left in, "$schema" makes jsonschema switch
        # back to its stock class when a $ref enters another file, losing `pattern`.
        return {k: v for k, v in doc.items() if k != "$schema"}

    spec = DRAFT202012
    registry: Registry[Any] = Registry().with_resources(
        (BASE_URI + n, spec.create_resource(dialectless(load(n)))) for n in names()
    )
    # The contract's integers are JSON integers: 60.0 is a number with a fraction
    # part, not the integer 60, whatever JSON Schema's own "integer" allows.
    base = jsonschema.Draft202012Validator
    types = base.TYPE_CHECKER.redefine("integer", lambda _, value: _is_json_integer(value))
    cls = validators.extend(base, {"pattern": pattern, "not": not_}, type_checker=types)
    checker = jsonschema.FormatChecker(formats=())
    for fmt, check in FORMATS.items():
        checker.checks(fmt)(check)
    return cls(dialectless(_root(name)), registry=registry, format_checker=checker)


MAX_DEPTH = 64  # levels of nesting any JSON body or fixture document may have


def too_deep(value: Any, raw: bytes | None = None, limit: int = MAX_DEPTH) -> bool:
    """Tell whether a JSON value nests deeper than ``limit`` arrays and objects.

    Every reader of JSON refuses deeper documents: the validators recurse once a
    level, and the journal's writer stops at 254. ``raw``, the text it was parsed
    from, lets a document with fewer brackets than the limit skip the walk.
    """
    if raw is not None and raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    level: list[Any] = [value]
    for _ in range(limit + 1):
        inner: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                inner.extend(v for v in item.values() if isinstance(v, dict | list))
            elif isinstance(item, list):
                inner.extend(v for v in item if isinstance(v, dict | list))
        if not inner:
            return False
        level = inner
    return True


def _is_json_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


@functools.cache
def _takes_integers(name: str) -> bool:
    # Whether a float could pass the quick validator where the contract wants an integer.
    return b'"integer"' in orjson.dumps(_inlined(_root(name), name.partition("#")[0]))


def is_valid(name: str, instance: Any) -> bool:
    """Tell whether the instance matches the schema, quickly."""
    validate = fast_validator(name)
    try:
        validate(instance)
    except _invalid():  # evaluated only when validate raised
        return False
    if _takes_integers(name) and _has_float(instance):
        # fastjsonschema takes 60.0 for an integer, as JSON Schema does; the full
        # validator, which does not, decides (a float in a body is rare).
        return not any(full_validator(name).iter_errors(instance))
    return True


def _place(part: str | int) -> tuple[int, str]:
    # Array indexes in numeric order (2 before 10), keys by name.
    return (part, "") if isinstance(part, int) else (-1, part)


def errors(name: str, instance: Any) -> list[Any]:
    """Return every jsonschema error of the instance, shallowest first.

    Their links back are cut (see _cut_links): nothing here reads a branch's own path.
    """
    found = list(full_validator(name).iter_errors(instance))
    found.sort(key=lambda e: (len(e.absolute_path), [_place(p) for p in e.absolute_path]))
    _cut_links(found)
    return found


def _cut_links(errors: list[Any]) -> None:
    """Cut the links from the errors' branches back to them.

    An error of ``anyOf`` or ``oneOf`` holds the errors of its branches
    (``context``), and each of them its ``parent``: a cycle, and each error holds
    the part of the instance it is about. Without it, a refused request's body is
    freed with its answer, not at the cyclic collector's next pass, which `serve`
    makes rare.
    """
    branches = [child for e in errors for child in e.context]
    while branches:
        child = branches.pop()
        child.parent = None
        branches.extend(child.context)


def _target(schema: Any) -> Any:
    """Follow a schema's $ref into another file, if it has one."""
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not (isinstance(ref, str) and ".schema.json" in ref.partition("#")[0]):
        return None
    target: Any = _by_uri(BASE_URI + ref.partition("#")[0])
    for part in ref.partition("#")[2].strip("/").split("/"):
        if part:
            target = target[part]
    return target


def _rule(schema: Any) -> str | None:
    if isinstance(schema, dict):
        rule = schema.get("x-rule")
        if isinstance(rule, str):
            return rule
        return _rule(_target(schema))
    return None


def _property_rule(schema: Any, key: str) -> str | None:
    """Return the rule of a property an object schema names, through allOf and $ref."""
    if not isinstance(schema, dict):
        return None
    if key in schema.get("properties", {}):
        return _rule(schema["properties"][key])
    for part in [_target(schema), *schema.get("allOf", ())]:
        rule = _property_rule(part, key)
        if rule is not None:
            return rule
    return None


_A_TYPE = {
    "object": "a JSON object",
    "array": "a JSON array",
    "string": "a string",
    "integer": "an integer",
    "null": "null",
}


def field_name(path: Any, pointer: bool = False) -> str:
    """Name a place in a document: ``time-entry.billable`` or ``/time-entries/3/seconds``."""
    parts = [str(p) for p in path]
    if pointer:
        return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)
    return ".".join(parts)


def details(errs: list[Any], pointer: bool = False) -> list[Detail]:
    """Turn jsonschema errors into the error body's ``details``: one per bad field."""
    out: list[Detail] = []
    seen: set[str] = set()  # fields with a problem already: linear, however many errors
    for err in errs:
        path = list(err.absolute_path)
        field = field_name(path, pointer)
        if field in seen and err.validator not in ("required", "additionalProperties"):
            continue  # one problem per field: a bad date fails its pattern and its format
        if err.validator == "required":
            missing = err.message.split("'")[1] if "'" in err.message else ""
            rule = _property_rule(err.schema, missing)
            text = "is required" + (f": {rule}" if rule and not pointer else "")
            out.append({"field": field_name([*path, missing], pointer), "message": text})
            seen.add(out[-1]["field"])
        elif err.validator == "additionalProperties":
            known = err.schema.get("properties", {})
            text = err.schema.get("x-unknown", "is not a known key")
            for key in err.instance:
                if key not in known:
                    out.append({"field": field_name([*path, key], pointer), "message": text})
                    seen.add(out[-1]["field"])
        else:
            rule = _rule(err.schema) if err.validator != "type" or path else None
            if rule is None and err.validator == "type":
                wanted = err.validator_value
                rule = (
                    f"must be {_A_TYPE.get(wanted, wanted) if isinstance(wanted, str) else wanted}"
                )
            out.append({"field": field, "message": rule or err.message})
            seen.add(field)
    return out
