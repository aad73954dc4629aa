"""Endpoints declared once (blueprints/api/endpoints.py): the model a handler declares is the
schema the document shows, and what the server validates.

* For every declared endpoint of the app, the document's request and response schemas are the
  ones generated from the handler's models (so nothing hand-kept shadows them).
* A field added to a model shows up in the document and is validated, with the API's stable
  codes and error shape.
* Nothing is written by hand but the shared error body; the generator refuses a name declared twice.
"""
from typing import Annotated, Literal

import pytest
from flask import Blueprint, Flask, jsonify
from pydantic import Field

from blueprints import errors
from blueprints.api import endpoints, openapi
from blueprints.api.endpoints import Flag, Ok, QueryModel, RequestModel, ResponseModel, endpoint

DOC = openapi.build_openapi()
JSON = "application/json"


def _component(ref_holder: dict) -> str:
    return ref_holder["$ref"].rsplit("/", 1)[1]


def test_every_declared_model_is_the_schema_the_document_shows():
    schemas = endpoints.schemas(endpoints.ENDPOINTS)
    assert len(endpoints.ENDPOINTS) >= 10
    for declared in endpoints.ENDPOINTS:
        operation = DOC["paths"][declared.path][declared.method.lower()]
        assert operation["operationId"] == declared.operation_id
        assert operation.get("x-required-scope") == declared.scope
        if declared.body is not None:
            name = _component(operation["requestBody"]["content"][JSON]["schema"])
            assert name == declared.body.__name__
            assert DOC["components"]["schemas"][name] == schemas[name]
            # Whatever the model refuses is documented as a 422 code of the operation.
            codes = set(operation["responses"]["422"]["content"][JSON]["schema"]["allOf"][1]["properties"]
                        ["error"]["properties"]["code"]["enum"])
            assert set(endpoints.body_codes(declared.body)) <= codes, declared.operation_id
        for status, ok in declared.responses.items():
            name = _component(operation["responses"][str(status)]["content"][JSON]["schema"])
            assert name == endpoints.model_name(ok.model)
            if not isinstance(ok.model, str):
                assert DOC["components"]["schemas"][name] == schemas[name]


# -- a model of its own: declare, generate, validate -----------------------------------------------

class Paint(RequestModel):
    colour: Literal["red", "blue"]
    label: Annotated[str | None, Field(max_length=5)] = None
    brushes: list[str] = Field(default_factory=list)


class Painted(ResponseModel):
    colour: str
    label: str | None


class Strokes(QueryModel):
    wet: Flag = False


def no_auth(scope):
    return lambda view: view


@pytest.fixture
def probe():
    """A tiny app with one declared endpoint in a registry of its own (not the document's)."""
    registry: list[endpoints.Endpoint] = []
    bp = Blueprint("probe", __name__, url_prefix="/api/probe")

    @endpoint(bp, "POST", "/paint", scope=None, security=[], operation_id="paint", tag="Probe",
              summary="Paint", behaviour="Paints.", body=Paint, query=Strokes, auth=no_auth, registry=registry,
              responses={200: Ok("Painted.", Painted, example={"colour": "red", "label": None},
                                 also={"image/png": {"schema": {"type": "string", "format": "binary"}}})})
    def paint(body: Paint, query: Strokes):
        return jsonify({"colour": body.colour, "label": body.label, "wet": query.wet})

    app = Flask(__name__)
    app.config.update(API_MAX_BODY_BYTES=1024, TESTING=True)
    errors.init_app(app)
    app.register_blueprint(bp)
    return app.test_client(), registry


def refusal(response, code):
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error["details"]


def test_a_field_of_the_model_is_documented(probe):
    _, registry = probe
    paths, schemas = openapi.declared_document(registry)
    assert schemas["Paint"]["properties"]["colour"] == {"type": "string", "enum": ["red", "blue"]}
    assert schemas["Paint"]["required"] == ["colour"] and schemas["Paint"]["additionalProperties"] is False
    assert schemas["Painted"]["properties"]["label"] == {"type": ["string", "null"]}
    operation = paths["/api/probe/paint"]["post"]
    assert operation["requestBody"]["content"][JSON]["schema"] == {"$ref": "#/components/schemas/Paint"}
    assert operation["responses"]["200"]["content"] == {
        JSON: {"schema": {"$ref": "#/components/schemas/Painted"}, "example": {"colour": "red", "label": None}},
        "image/png": {"schema": {"type": "string", "format": "binary"}}}
    assert operation["parameters"] == [{"name": "wet", "in": "query", "required": False,
                                        "schema": {"type": "boolean", "default": False}}]
    documented = operation["responses"]["422"]["content"][JSON]["schema"]["allOf"][1]["properties"]["error"]
    assert set(documented["properties"]["code"]["enum"]) >= {
        "missing_field", "invalid_field", "unknown_field", "invalid_json", "invalid_parameter"}


def test_the_same_field_is_validated_with_the_apis_codes(probe):
    client, _ = probe
    ok = client.post("/api/probe/paint?wet=YES", json={"colour": "blue", "label": "sky"})
    assert ok.status_code == 200 and ok.get_json() == {"colour": "blue", "label": "sky", "wet": True}
    assert refusal(client.post("/api/probe/paint", json={}), "missing_field") == {"field": "colour"}
    assert refusal(client.post("/api/probe/paint", json={"colour": None}), "missing_field") == {"field": "colour"}
    assert refusal(client.post("/api/probe/paint", json={"colour": "green"}), "invalid_field") == {"field": "colour"}
    # null for an optional field that cannot be null is a wrong value (leave it out), not a missing one
    assert refusal(client.post("/api/probe/paint", json={"colour": "red", "brushes": None}),
                   "invalid_field") == {"field": "brushes"}
    assert refusal(client.post("/api/probe/paint", json={"colour": "red", "brushes": [None]}),
                   "invalid_field") == {"field": "brushes.0"}  # an item is no field: it cannot be missing
    assert refusal(client.post("/api/probe/paint", json={"colour": "red", "label": "too long"}),
                   "invalid_field") == {"field": "label"}
    assert refusal(client.post("/api/probe/paint", json={"colour": "red", "shade": 1}),
                   "unknown_field") == {"field": "shade"}
    # The one strict parser still comes first.
    assert refusal(client.post("/api/probe/paint", data="{", content_type=JSON), "invalid_json") == {}
    assert refusal(client.post("/api/probe/paint", data='{"colour": NaN}', content_type=JSON),
                   "invalid_number") == {}
    assert refusal(client.post("/api/probe/paint?wet=maybe", json={"colour": "red"}),
                   "invalid_parameter") == {"parameter": "wet"}


def test_a_field_added_to_the_model_is_documented_and_validated(probe):
    """Adding a field is one line in the model: the document and the validation follow."""
    class Paint2(Paint):
        coats: Annotated[int, Field(ge=1, le=3)]

    registry: list[endpoints.Endpoint] = []
    bp = Blueprint("probe2", __name__, url_prefix="/api/probe2")

    @endpoint(bp, "POST", "/paint", scope=None, security=[], operation_id="paint2", tag="Probe", summary="Paint",
              behaviour="Paints.", body=Paint2, auth=no_auth, registry=registry,
              responses={200: Ok("Painted.", Painted)})
    def paint(body: Paint2):
        return jsonify({"coats": body.coats})

    _, schemas = openapi.declared_document(registry)
    assert schemas["Paint2"]["properties"]["coats"] == {"type": "integer", "minimum": 1, "maximum": 3}
    assert "coats" in schemas["Paint2"]["required"]
    app = Flask(__name__)
    app.config.update(API_MAX_BODY_BYTES=1024)
    errors.init_app(app)
    app.register_blueprint(bp)
    client = app.test_client()
    assert refusal(client.post("/api/probe2/paint", json={"colour": "red"}), "missing_field") == {"field": "coats"}
    assert refusal(client.post("/api/probe2/paint", json={"colour": "red", "coats": 4}),
                   "invalid_field") == {"field": "coats"}
    # Strict JSON types: a string is not a number.
    assert refusal(client.post("/api/probe2/paint", json={"colour": "red", "coats": "2"}),
                   "invalid_field") == {"field": "coats"}
    assert client.post("/api/probe2/paint", json={"colour": "red", "coats": 2}).get_json() == {"coats": 2}


def test_nothing_in_the_document_is_written_by_hand():
    """Every operation of the document is a declared endpoint (the account surfaces were the last
    hand-kept ones) and every schema but the shared error body is generated from a model."""
    declared = {(e.path, e.method.lower()) for e in endpoints.ENDPOINTS}
    documented = {(path, method) for path, item in DOC["paths"].items() for method in item if method != "parameters"}
    assert documented == declared
    generated = endpoints.schemas(endpoints.ENDPOINTS, endpoints.COMPONENTS)
    assert {name: schema for name, schema in DOC["components"]["schemas"].items() if name != "Error"} == generated


def test_an_operation_or_schema_cannot_be_declared_twice():
    with pytest.raises(RuntimeError, match="components.schemas.Error"):
        openapi.with_error_component({"Error": {"type": "object"}})
    with pytest.raises(RuntimeError, match="two models share this name"):
        class Painted(ResponseModel):  # another model of the same name as the probe's
            hue: str

        registry: list[endpoints.Endpoint] = []
        for model in (Painted, globals()["Painted"]):
            endpoint(Blueprint(f"twice{id(model)}", __name__), "GET", "/x", scope=None, operation_id="x", tag="x",
                     summary="x", behaviour="x", auth=no_auth, registry=registry,
                     responses={200: Ok("x", model)})(lambda: None)
        endpoints.schemas(registry)


def test_the_document_orders_operations_by_module_whatever_was_imported_first():
    """A process that imported the webhooks (or any module) before the others declared its
    endpoints first; the document, and the SDK types generated from it, must not follow that."""
    from itertools import groupby

    from blueprints.api import endpoints as declared, openapi

    modules = openapi._declaring_modules()
    module_of = lambda e: e.view.__module__  # noqa: E731
    expected = openapi._in_module_order(declared.ENDPOINTS, modules)
    blocks = [list(group) for _, group in groupby(expected, key=module_of)]
    imported_backwards = [e for block in reversed(blocks) for e in block]
    assert imported_backwards != expected
    assert openapi._in_module_order(imported_backwards, modules) == expected
