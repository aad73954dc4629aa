"""Request models: the typed shape of what a domain function takes, validated into the stable codes.

A body the JSON API, the console and MCP share (a connect, a query) is one pydantic model, kept
in the domain package that takes it (``connections.requests``, ``knowledge.requests``). The API's
``@endpoint`` declares it, so the OpenAPI document is generated from it, and validates the body
with it; the console and the MCP tools hand their form or arguments to the same domain function,
which validates them with the same model (``validated``). So there is one source of truth for
the shape, the types, the ranges and the enums, and one set of error codes whoever calls.

``validated`` turns pydantic's refusal into the project's ``ValidationError``: a field the
model does not have is ``unknown_field``, a required one that is absent, ``null`` or blank is
``missing_field`` and any other refusal ``invalid_field``, each with ``details.field``
(``credentials.token`` for a nested one). A validator that has a stable code of its own for a
refusal (``query_too_long``, ``invalid_access_mode``) raises ``refuse(code, message, **details)``; a
model whose required field has a code of its own for its absence names it in
``missing_codes``. What needs the database (is this a member? is there such a store?) stays in
the domain function, after the model.
"""
from __future__ import annotations

from typing import Annotated, Any, ClassVar

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WrapValidator
from pydantic_core import PydanticCustomError

from .errors import ValidationError
from .text import unsafe_character, unsafe_message

_REFUSAL = "refusal"
# A ``$ref`` to a component of the OpenAPI document, written by its generator
# (``blueprints.api.endpoints``) once pydantic is done resolving its own.
COMPONENT = "x-component-schema"


def component_ref(name: str) -> dict:
    """A ``$ref`` to ``components.schemas[name]`` inside a schema pydantic generates (say, from a
    ``json_schema_extra`` function or ``WithJsonSchema``, a request model's field documented as a
    component): pydantic resolves every "$ref" it sees, so the document's generator writes this
    one last."""
    return {COMPONENT: name}


class RequestModel(BaseModel):
    """A request body: strict JSON types (``"5"`` is not a number, ``1`` not a boolean) and no
    field the model does not name (``unknown_field``); a model that ignores unknown fields says
    ``model_config = ConfigDict(extra="ignore")``.

    ``missing_codes`` maps a required field to the ``(code, message)`` its absence answers
    instead of ``missing_field`` (a query's ``query_required``)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    missing_codes: ClassVar[dict[str, tuple[str, str]]] = {}
    # The code a field the model does not name gets (a model that says it in its own words, with
    # a ``mode="before"`` validator, names its code here for the document).
    unknown_code: ClassVar[str] = "unknown_field"


def refuse(code: str, message: str, **details) -> PydanticCustomError:
    """``raise refuse(...)`` in a validator: the refusal answered with this stable ``code`` and
    ``message``; ``details`` join ``details.field`` (a ``field=`` among them names another)."""
    return PydanticCustomError(code, message.replace("{", "(").replace("}", ")"), {_REFUSAL: details})


def worded(message: str, code: str = "invalid_field") -> WrapValidator:
    """``Annotated[int | None, Field(ge=1, le=100), worded("limit must be ...")]``: the field's
    type and constraints validate it, and a refusal is said in ``message`` (the wording the
    console shows its users) rather than in pydantic's."""
    def wrap(value, handler):
        try:
            return handler(value)
        except pydantic.ValidationError:
            raise refuse(code, message) from None
    return WrapValidator(wrap)


def blank_is_absent(value):
    """``BeforeValidator``: ``""`` (or only spaces) counts as an absent optional field."""
    return None if isinstance(value, str) and not value.strip() else value


def _text(max_length: int, required: bool, safe: bool):
    def check(value, handler, info: pydantic.ValidationInfo):
        name = info.field_name
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise refuse("missing_field", f"{name} is required.")
            return None
        if not isinstance(value, str):
            raise refuse("invalid_field", f"{name} must be a string.")
        value = value.strip()
        if len(value) > max_length:
            raise refuse("invalid_field", f"{name} is longer than {max_length} characters.")
        if safe:
            _safe_name(value, info)
        return handler(value)
    return WrapValidator(check)


def Text(max_length: int, *, required: bool = False, safe: bool = True):  # noqa: N802  (a type)
    """A text field people and programs name things with: a string, trimmed, at most
    ``max_length`` characters, and (``safe``) without control, line-break or bidirectional
    formatting characters (``invalid_field`` naming ``details.character``). Absent, ``null`` or
    blank is ``missing_field`` when ``required`` (whether or not the model requires the field:
    PATCH may leave ``name`` out but not blank it), else absent (``None``)."""
    if required:
        return Annotated[str, Field(min_length=1, max_length=max_length), _text(max_length, True, safe)]
    return Annotated[str | None, Field(max_length=max_length), _text(max_length, False, safe)]


def _stripped(value: str) -> str:
    if not value.strip():
        raise ValueError("is required")
    return value.strip()


# A required text field: a string, trimmed; blank is ``missing_field`` (``missing_parameter``).
NonBlank = Annotated[str, Field(min_length=1), AfterValidator(_stripped)]


def _safe_name(value: str, info: pydantic.ValidationInfo) -> str:
    character = unsafe_character(value)
    if character:
        raise refuse("invalid_field", unsafe_message(info.field_name, character), character=character)
    return value


# A name or id shown to people: trimmed, without a control, line-break or bidirectional formatting
# character (``invalid_field`` naming ``details.character``, like ``core.text.check_name``).
SafeName = AfterValidator(_safe_name)


def validated(model: type[RequestModel], data: Any, *, kind: str = "field") -> RequestModel:
    """``data`` (a JSON body, a form, an MCP tool's arguments) as ``model``; a refusal is the
    ``ValidationError`` its code says (``kind="parameter"``: ``missing_parameter`` /
    ``invalid_parameter`` naming ``details.parameter``, for query strings)."""
    if isinstance(data, model):
        return data
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", code="invalid_body")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise refusal(exc, kind=kind, model=model) from None


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _required(model: type[BaseModel], loc: tuple) -> bool:
    """Whether ``loc`` is a required field of ``model`` (a nested one: of the model it is in); an
    item of a list or map is no field, and ``null`` there is a wrong value, not a missing one."""
    for depth, name in enumerate(loc):
        info = model.model_fields.get(name) if isinstance(name, str) else None
        if info is None:
            return False
        if depth == len(loc) - 1:
            return info.is_required()
        inner = info.annotation
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return False
        model = inner
    return False


def refusal(exc: pydantic.ValidationError, *, kind: str, model: type[BaseModel]) -> ValidationError:
    """The first refusal, in the project's words: an unknown field (the first by name) before a
    missing one before a wrong one (the order a reader fixes them in), each in the model's field
    order. ``null`` or blank is "missing" for a required field only; an optional one that cannot
    be ``null`` is ``invalid_field`` (leave it out instead)."""
    def rank(error):
        if error["type"] == "extra_forbidden":
            return 0, str(error["loc"])
        if error["type"] == "missing" or (_blank(error.get("input")) and _required(model, error["loc"])):
            return 1, ""
        return 2, ""

    error = min(exc.errors(include_url=False), key=rank)
    name = ".".join(str(part) for part in error["loc"]) or kind
    details = {kind: name} if error["loc"] else {}  # a refusal of the whole body names what it is about
    if rank(error)[0] == 0:
        return ValidationError(f"Unknown field {name!r}.", code="unknown_field", details=details)
    if rank(error)[0] == 1:
        own = getattr(model, "missing_codes", {}).get(name)
        if own:
            return ValidationError(own[1], code=own[0], details=details)
        what = "The query parameter " + name if kind == "parameter" else name
        return ValidationError(f"{what} is required.", code=f"missing_{kind}", details=details)
    if _REFUSAL in (error.get("ctx") or {}):
        return ValidationError(error["msg"], code=error["type"], details={**details, **error["ctx"][_REFUSAL]})
    if error["type"] == "value_error":  # a validator of ours said it in words: "is true or false"
        message = f"{name} {error['ctx']['error']}."
    else:
        message = f"{name}: {error['msg'][0].lower()}{error['msg'][1:]}."
    return ValidationError(message, code=f"invalid_{kind}", details=details)
