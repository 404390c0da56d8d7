"""Validate request bodies against Discord's published OpenAPI description.

The spec (Discord's ``discord-openapi.json``, ~1.2 MB, at the path the fake is given) is
loaded lazily, once per process, and one compiled validator is cached per operation.
Validating a body costs milliseconds (the command sync, ~20 kB, the most), and the same
bodies come again and again (the sync at every bot start of a test suite): the verdict on
a body is remembered by its operation and a digest of its JSON, for the last
:data:`VERDICTS_KEPT` bodies.  Two adjustments
keep it honest about what Discord really accepts:

* Snowflakes are ``{"type": "string", "pattern": ...}`` in the spec, yet Discord
  (and discord.py, e.g. ``allowed_mentions.users``) happily sends integers; the
  ``SnowflakeType`` schema is widened to accept non-negative integers too.
* Unions are written as ``anyOf`` with ``x-discord-union: oneOf``; they are
  validated as ``anyOf`` because several branches legitimately overlap.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # jsonschema is a dev dependency: the product (the preview) runs without the spec and never imports it.
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError
    from referencing import Registry

SPEC_URI = "urn:discord-openapi"
_PARAM_RE = re.compile(r"\{[^/}]+\}")


@dataclass(frozen=True)
class _Operation:
    template: str
    regex: re.Pattern[str]
    literal_weight: int


@functools.cache
def _load(spec_path: Path) -> tuple[dict[str, Any], Registry, list[_Operation]] | None:
    """Read and adapt the spec once; ``None`` when the file is absent."""
    if not spec_path.is_file():
        return None
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec = copy.deepcopy(spec)
    schemas = spec.get("components", {}).get("schemas", {})
    if "SnowflakeType" in schemas:
        original = schemas["SnowflakeType"]
        schemas["SnowflakeType"] = {"anyOf": [original, {"type": "integer", "minimum": 0}]}
    registry: Registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    operations = []
    for template in spec.get("paths", {}):
        pattern = "^" + _PARAM_RE.sub("[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        weight = len(_PARAM_RE.sub("", template))
        operations.append(_Operation(template, re.compile(pattern), weight))
    # Prefer literal matches: ".../messages/@original" over ".../messages/{message_id}".
    operations.sort(key=lambda op: op.literal_weight, reverse=True)
    return spec, registry, operations


def _pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


#: Compiled validators shared by every FakeDiscord in the process: (spec, method, template) -> validator.
_VALIDATORS: dict[tuple[Path, str, str], Draft202012Validator | None] = {}

#: How many request bodies' verdicts are remembered (least recently used forgotten first).
VERDICTS_KEPT = 1024
#: Verdicts shared by every FakeDiscord in the process: (spec, method, template, body digest) -> problems.
_VERDICTS: OrderedDict[tuple[Path, str, str, str], tuple[str, ...]] = OrderedDict()


def _digest(body: Any) -> str:
    """A body's identity: its JSON text, key order kept (so even an invalid body's messages are its own)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class OpenApiValidator:
    """Finds the operation for a request and validates its JSON body."""

    def __init__(self, spec_path: Path | None) -> None:
        self.spec_path = spec_path

    @property
    def available(self) -> bool:
        """True when the spec file exists (validation is skipped otherwise)."""
        return self.spec_path is not None and self.spec_path.is_file()

    def match(self, api_path: str) -> str | None:
        """The spec's path template for a concrete path below ``/api/v10``."""
        loaded = _load(self.spec_path) if self.spec_path else None
        if loaded is None:
            return None
        for op in loaded[2]:
            if op.regex.match(api_path):
                return op.template
        return None

    def _validator(self, method: str, template: str) -> Draft202012Validator | None:
        if self.spec_path is None:
            return None
        key = (self.spec_path, method.lower(), template)
        if key in _VALIDATORS:
            return _VALIDATORS[key]
        loaded = _load(self.spec_path)
        validator = None
        if loaded is not None:
            from jsonschema import Draft202012Validator

            spec, registry, _ = loaded
            operation = spec["paths"].get(template, {}).get(method.lower())
            content = (operation or {}).get("requestBody", {}).get("content", {})
            if "application/json" in content:
                pointer = "/".join(
                    _pointer_escape(p)
                    for p in ("paths", template, method.lower(), "requestBody", "content", "application/json", "schema")
                )
                validator = Draft202012Validator({"$ref": f"{SPEC_URI}#/{pointer}"}, registry=registry)
        _VALIDATORS[key] = validator
        return validator

    def _response_validator(self, method: str, template: str, status: int) -> Draft202012Validator | None:
        if self.spec_path is None:
            return None
        key = (self.spec_path, f"{method.lower()} -> {status}", template)
        if key in _VALIDATORS:
            return _VALIDATORS[key]
        loaded = _load(self.spec_path)
        validator = None
        if loaded is not None:
            from jsonschema import Draft202012Validator

            spec, registry, _ = loaded
            responses = spec["paths"].get(template, {}).get(method.lower(), {}).get("responses", {})
            code = str(status) if str(status) in responses else f"{status // 100}XX"
            if "application/json" in responses.get(code, {}).get("content", {}):
                pointer = "/".join(
                    _pointer_escape(p)
                    for p in (
                        "paths",
                        template,
                        method.lower(),
                        "responses",
                        code,
                        "content",
                        "application/json",
                        "schema",
                    )
                )
                validator = Draft202012Validator({"$ref": f"{SPEC_URI}#/{pointer}"}, registry=registry)
        _VALIDATORS[key] = validator
        return validator

    def validate_response(self, method: str, api_path: str, status: int, body: Any) -> list[str]:
        """Check what the fake answered against the spec's response schema (self-test of the fake)."""
        template = self.match(api_path)
        validator = self._response_validator(method, template, status) if template else None
        if validator is None:
            return []
        errors = sorted(validator.iter_errors(body), key=lambda e: e.path)
        return [_describe(method, template or api_path, error) for error in errors[:5]]

    def validate(self, method: str, api_path: str, body: Any) -> list[str]:
        """Readable schema errors for ``body`` (empty when valid or not checkable)."""
        template = self.match(api_path)
        if template is None or self.spec_path is None:
            return []
        validator = self._validator(method, template)
        if validator is None:
            return []
        key = (self.spec_path, method.lower(), template, _digest(body))
        known = _VERDICTS.get(key)
        if known is not None:
            _VERDICTS.move_to_end(key)
            return list(known)
        errors = sorted(validator.iter_errors(body), key=lambda e: e.path)
        problems = [_describe(method, template, error) for error in errors[:5]]
        _VERDICTS[key] = tuple(problems)
        if len(_VERDICTS) > VERDICTS_KEPT:
            _VERDICTS.popitem(last=False)
        return problems


def _describe(method: str, template: str, error: ValidationError) -> str:
    """Name the failing field, looking inside unions for the branch that was meant."""
    detail = _closest(error)
    where = ".".join(str(p) for p in detail.absolute_path) or "<body>"
    message = detail.message
    if len(message) > 200:
        value = detail.instance
        size = f", length {len(value)}" if isinstance(value, (str, list, dict)) else ""
        message = f"fails {detail.validator}={detail.validator_value!r:.80} (got {type(value).__name__}{size})"
    return f"openapi {method.upper()} {template}: {where}: {message}"


def _closest(error: ValidationError) -> ValidationError:
    """Descend into anyOf/oneOf errors.

    A branch whose discriminator (an ``enum``/``const`` such as ``type``) did not
    match was clearly not the intended one, so it is ignored; among the rest
    the deepest error is the most useful one to report.
    """
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [
            errs
            for errs in branches.values()
            if not any(e.validator in ("enum", "const") and len(e.relative_path) <= 1 for e in errs)
        ]
        candidates = [e for errs in (meant or list(branches.values())) for e in errs]
        error = max(candidates, key=lambda e: len(e.absolute_path))
    return error
