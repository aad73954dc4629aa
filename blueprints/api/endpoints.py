"""Endpoints declared once: route, scope, typed request and response models, and the prose.

An endpoint of the JSON API is one ``@endpoint(...)`` beside its view. The declaration routes
the view on its blueprint, authenticates it (``require_scope``), parses and validates its body
(and query) through pydantic models into the project's error codes, and is what
``openapi.build_openapi()`` generates the operation and its ``components.schemas`` from. So the
handler, the validation and the document cannot disagree: there is no second copy to keep.

    class VectorStoreCreate(RequestModel):
        name: Annotated[str, Field(min_length=1, max_length=120)]

    @endpoint(bp, "POST", "/vector-stores", scope="pipeline", operation_id="createVectorStore",
              tag="Vector stores", summary="Create a named vector store", behaviour="...",
              body=VectorStoreCreate, responses={201: Ok("Created.", VectorStore)},
              errors={409: ["vector_store_exists"]})
    def create_vector_store(body: VectorStoreCreate):
        ...

Validation keeps the API's stable codes and error shape (``{"error": {"code", "message",
"details"}}``): the body is read by the one strict parser (``body.json_body``: ``invalid_json``,
``json_too_deep``, ``invalid_number``, ``invalid_string``, ``invalid_body``), then a field that
is absent, ``null`` or blank where it is required is ``missing_field``, a field the model does
not have is ``unknown_field`` and any other refusal ``invalid_field``, each with
``details.field`` (``credentials.token`` for a nested one). Query models answer
``missing_parameter`` / ``invalid_parameter`` with ``details.parameter``. A field the domain
checks itself, with a code of its own, is ``Annotated[Any, checked_later(schema)]``. The codes a
body model can produce are added to the operation's documented ``422`` by the generator.

Why a small layer over pydantic's ``model_json_schema`` rather than a framework: spectree 3.0 and
flask-openapi3 4.3, tried on two of these endpoints, both read bodies with
``request.get_json(silent=True)`` (``NaN`` accepted; invalid JSON read as ``{}`` or ``null``, so
``invalid_json``, ``invalid_number`` and ``json_too_deep`` would be lost), answer pydantic's error
list instead of the API's error shape unless every error is re-mapped in a hook, and generate
their own ``422`` responses and operation ids (spectree also hashed schema names, flask-openapi3
replaces the Flask app and its blueprints). APIFlask 3 brings marshmallow, webargs and apispec
along and replaces the app as well. What the document needs beyond the schemas (scopes, stable
error codes per status, the prose) is this project's own either way.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable

from flask import Blueprint, request
from pydantic import BaseModel, BeforeValidator, ConfigDict, RootModel, WithJsonSchema, model_validator
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from core.requests import COMPONENT as _COMPONENT, component_ref  # noqa: F401  (re-exported)
from core.requests import NonBlank, RequestModel, refuse, validated  # noqa: F401  (the models' bases)

from .auth import require_scope
from .body import json_body

REF_TEMPLATE = "#/components/schemas/{model}"


# -- the models' bases -----------------------------------------------------------------------------

class QueryModel(BaseModel):
    """Query parameters: strings as sent (``Flag`` for a true/false one, ``checked_later`` for one
    the domain parses); an empty value is an absent one; parameters the model does not name are
    ignored."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data):
        return {name: value for name, value in data.items() if value != ""} if isinstance(data, dict) else data


class ResponseModel(BaseModel):
    """A response body: every field present (a nullable one as ``null``) and nothing else, so an
    undocumented field fails the contract tests."""

    model_config = ConfigDict(extra="forbid")


def _flag(value):
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise ValueError("is true or false")


# A true/false query parameter: ``true``/``false``, ``1``/``0``, ``yes``/``no`` in any case.
Flag = Annotated[bool, BeforeValidator(_flag)]


def checked_later(schema: dict) -> WithJsonSchema:
    """``Annotated[Any, checked_later(schema)]``: a field the view hands to the domain unparsed,
    because the domain checks it after something else (a channel before a ``limit``, a connector
    type before a ``preset``) with its own stable code; documented as ``schema``. Its absence is
    still ``missing_field`` when the field is required."""
    return WithJsonSchema(schema)


def schema_ref(name: str, *, nullable: bool = False) -> WithJsonSchema:
    """``Annotated[dict, schema_ref("Name")]``: documented as ``components.schemas[name]``, for
    a field whose checks belong to the domain (say connector settings) or whose schema is still
    written by hand in ``openapi.py``."""
    ref = component_ref(name)
    return WithJsonSchema({"anyOf": [ref, {"type": "null"}]} if nullable else ref)


# -- declarations ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ok:
    """A success response: its description, its model (or the name of a hand-kept schema) and
    an ``example`` or named ``examples`` (each checked against the schema by the tests); ``also``
    adds other media types of the same answer (``{"application/pdf": {"schema": {...}}}``)."""

    description: str
    model: type[BaseModel] | str
    example: Any = None
    examples: dict | None = None
    also: dict | None = None


@dataclass
class Endpoint:
    method: str
    path: str
    operation_id: str
    summary: str
    behaviour: str | Callable[[], str]
    tag: str
    scope: str | None
    responses: dict[int, Ok]
    errors: dict[int, list]
    body: type[BaseModel] | None = None
    body_examples: dict | None = None
    body_required: bool = True
    json_parser: bool = True
    query: type[QueryModel] | None = None
    path_parameters: list[dict] = field(default_factory=list)
    security: list | None = None
    view: Callable | None = None


ENDPOINTS: list[Endpoint] = []
# Models the document shows although no declared endpoint names them: those a schema points at
# by name (``component_ref``; the four connect bodies behind ``ConnectRequest``), or a hand-kept one.
COMPONENTS: list[type[BaseModel]] = []


def component(model: type[BaseModel]) -> type[BaseModel]:
    """Class decorator: put ``model`` in ``components.schemas`` whoever names it."""
    COMPONENTS.append(model)
    return model


def public(scope: None):
    """``auth=public``: an endpoint without an API key (it says how it is reached with ``security``)."""
    assert scope is None, "a public endpoint has no scope"
    return lambda view: view


def openapi_path(rule: str) -> str:
    """``/connectors/<id(prefix="conn"):connector_id>`` → ``/connectors/{connector_id}``."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def endpoint(bp: Blueprint, method: str, rule: str, *, operation_id: str, summary: str, tag: str,
             scope: str | None, behaviour: str | Callable[[], str], responses: dict[int, Ok],
             errors: dict[int, list] | None = None, body: type[BaseModel] | None = None,
             body_examples: dict | None = None, body_required: bool = True,
             json_parser: bool = True, query: type[QueryModel] | None = None,
             path_parameters: list[dict] | None = None, security: list | None = None,
             auth: Callable = require_scope, registry: list[Endpoint] = ENDPOINTS):
    """Route ``view`` as ``method rule`` on ``bp`` behind ``auth(scope)`` and declare its operation.

    The view receives the validated ``body`` and ``query`` models as keyword arguments when its
    signature names them (a view that must check something first, say a platform admin or pipeline
    sync's rate limit, leaves ``body`` out of its signature and has the body validated by the same
    model later: ``parse_body``, or the domain function with ``core.requests.validated``).
    ``errors`` lists the stable codes per status the domain can answer (a code alone, or
    ``(code, when)`` to say it more precisely for this operation); authentication, body-parsing,
    size-limit and ``500`` codes are added by the generator. ``json_parser=False`` says the body is
    not read with ``body.json_body`` (webhooks: the signature is over the raw bytes, and the domain
    validates the payload with the model once it is verified), so that parser's codes are not
    added. ``registry`` is where the declaration
    goes (the document's, unless a test declares an endpoint of its own)."""
    def decorator(view):
        wanted = set(inspect.signature(view).parameters)

        def handler(**kwargs):
            if body is not None and "body" in wanted:
                kwargs["body"] = parse_body(body)
            if query is not None and "query" in wanted:
                kwargs["query"] = parse_query(query)
            return view(**kwargs)

        handler.__name__, handler.__doc__, handler.__module__ = view.__name__, view.__doc__, view.__module__
        guarded = auth(scope)(handler)
        bp.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=[method])
        registry.append(Endpoint(
            method=method.upper(), path=openapi_path((bp.url_prefix or "") + rule), operation_id=operation_id,
            summary=summary, behaviour=behaviour, tag=tag, scope=scope, responses=responses, errors=errors or {},
            body=body, body_examples=body_examples, body_required=body_required,
            json_parser=json_parser, query=query, path_parameters=list(path_parameters or []),
            security=security, view=view))
        return guarded
    return decorator


# -- validation into the API's error codes ---------------------------------------------------------

def parse_body(model: type[RequestModel]) -> RequestModel:
    """The request's JSON body (``body.json_body``, the strict parser) validated as ``model``."""
    return validated(model, json_body())


def parse_query(model: type[QueryModel]) -> QueryModel:
    return validated(model, request.args.to_dict(), kind="parameter")


def body_codes(model: type[RequestModel]) -> list[str]:
    """The ``422`` codes validating ``model`` can produce, for the operation's error table (a
    root model, a JSON object or array as a whole, lists its own)."""
    if issubclass(model, RootModel):
        return []
    codes = []
    own = getattr(model, "missing_codes", {})
    if any(info.is_required() and name not in own for name, info in model.model_fields.items()):
        codes.append("missing_field")
    codes += [code for code, _message in own.values() if code not in codes]
    if any(info.annotation is not Any for info in model.model_fields.values()):  # else the domain checks all
        codes.append("invalid_field")
    if model.model_config.get("extra") == "forbid":
        codes.append(getattr(model, "unknown_code", "unknown_field"))
    return codes


# -- the document's schemas ------------------------------------------------------------------------

class OpenApiSchema(GenerateJsonSchema):
    """pydantic's JSON Schema in the document's conventions: no generated titles, and
    ``type: [..., "null"]`` for a nullable value (``anyOf`` with ``null`` around a ``$ref``)."""

    def field_title_should_be_set(self, schema) -> bool:
        return False

    def model_schema(self, schema):
        return self._class_schema(super().model_schema(schema))

    def typed_dict_schema(self, schema):
        return self._class_schema(super().typed_dict_schema(schema))

    @staticmethod
    def _class_schema(generated: dict) -> dict:
        generated.pop("title", None)
        if "description" in generated:  # a docstring: its wrapped lines joined, paragraphs kept
            generated["description"] = re.sub(r"(?<!\n)\n(?!\n)", " ", generated["description"])
        return generated

    def default_schema(self, schema):
        # An optional field's ``None`` default says nothing its type does not already say.
        generated = super().default_schema(schema)
        if "default" in generated and generated["default"] is None:
            del generated["default"]
        return generated

    def nullable_schema(self, schema):
        inner = self.generate_inner(schema["schema"])
        # A typed map stays whole inside ``anyOf`` (code generators lose its value type in a type list).
        typed_map = isinstance(inner.get("additionalProperties"), dict)
        if isinstance(inner.get("type"), str) and "$ref" not in inner and not typed_map:
            nullable = {**inner, "type": [inner["type"], "null"]}
            if "enum" in inner:
                nullable["enum"] = [*inner["enum"], None]
            if "const" in inner:
                nullable = {**{k: v for k, v in nullable.items() if k != "const"}, "enum": [inner["const"], None]}
            return nullable
        return {"anyOf": [inner, {"type": "null"}]}


def inline_schema(model: type[BaseModel], *, exclude: frozenset[str] = frozenset()) -> dict:
    """``model``'s JSON Schema (what it validates) in the document's conventions, self-contained:
    a model it names is inlined where it is used rather than referenced from ``$defs`` (an MCP
    tool's ``inputSchema``: clients resolve no references), and the fields in ``exclude`` left out."""
    schema = model.model_json_schema(schema_generator=OpenApiSchema)
    defined = schema.pop("$defs", {})

    def inline(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(defined[node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    schema = inline(schema)
    schema["properties"] = {name: prop for name, prop in schema["properties"].items() if name not in exclude}
    if "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in exclude]
    return schema


def model_name(model: type[BaseModel] | str) -> str:
    return model if isinstance(model, str) else model.__name__


def schemas(endpoints: list[Endpoint], extra: list[type[BaseModel]] = ()) -> dict[str, dict]:
    """``components.schemas`` for every model the endpoints name, every model those name, and
    the ``extra`` ones."""
    wanted: dict[type[BaseModel], str] = {model: "serialization" for model in extra}
    for declared in endpoints:
        if declared.body is not None:
            wanted[declared.body] = "validation"
        for ok in declared.responses.values():
            if not isinstance(ok.model, str):
                wanted.setdefault(ok.model, "serialization")
    if not wanted:
        return {}
    _, generated = models_json_schema(list(wanted.items()), ref_template=REF_TEMPLATE,
                                      schema_generator=OpenApiSchema)
    found = generated.get("$defs", {})
    for model in wanted:
        if model.__name__ not in found:
            raise RuntimeError(f"{model.__name__}: two models share this name; schema names must be unique")
    return _resolved(dict(sorted(found.items())))


def _resolved(node):
    """``schema_ref`` placeholders as the ``$ref`` they stand for."""
    if isinstance(node, dict):
        if _COMPONENT in node:
            return {"$ref": REF_TEMPLATE.format(model=node[_COMPONENT])}
        return {key: _resolved(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(value) for value in node]
    return node


def query_parameters(declared: Endpoint) -> list[dict]:
    """The query model's fields as OpenAPI parameters."""
    if declared.query is None:
        return []
    schema = declared.query.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=OpenApiSchema)
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        if isinstance(prop.get("type"), list):  # ``None`` stands for absent: a query string has no null
            prop["type"] = next(kind for kind in prop["type"] if kind != "null")
        description = prop.pop("description", None)
        parameter = {"name": name, "in": "query", "required": name in schema.get("required", [])}
        if description:
            parameter["description"] = description
        parameter["schema"] = _resolved(prop)
        parameters.append(parameter)
    return parameters
