"""The bodies the API shares with the console and MCP are validated by their models.

Connect, resolve, PATCH connection, reconnect, rotate-secret, the query and pipeline sync each have
one model (``connections.requests``, ``knowledge.query_request``, ``knowledge.pipeline_request``).
For every bad shape below:

* the model alone refuses it with the stable code, the field and the words users get;
* the endpoint declares that model and answers exactly that refusal (for the operations on a
  connection, with an id that does not exist: the body is the model's before the id is looked up);
* the domain function the console's forms and the MCP search tool call (and pipeline sync's)
  refuses the same body the same way, because it validates with the same model.
"""
import pydantic
import pytest

from blueprints.api import endpoints, openapi
from blueprints.api.connections import ConnectRequest
from connections import service, webhooks
from connections.requests import (ApiKeyConnectRequest, ConnectTarget, HandleConnectRequest, OAuthConnectRequest,
                                  ReconnectRequest, ResolveRequest, RotateSecretRequest, UpdateRequest,
                                  WebhookConnectRequest)
from core.errors import ValidationError
from core.extensions import db
from core.requests import validated
from knowledge import pipeline, search
from knowledge import pipeline_request
from knowledge.pipeline_request import Operation, PipelineSyncRequest
from knowledge.query_request import QueryRequest
from tests.factories import user_actor_for

MISSING = "conn_doesnotexist0000"
SYNC = {"organization_id": "org_doesnotexist0000", "sync_mode": "incremental", "sync_timestamp": "2026-04-13T10:30:00Z",
        "operations": [{"action": "delete", "id": "t1", "namespace": "tasks"}], "vector_store_id": "vs_doesnotexist00"}
LONG = "x" * 2001

# (operation id, the model that refuses it, body, code, details.field or None)
CASES = [
    # POST /api/v1/connections: the connector first, then its connect method's model
    ("connect", ConnectTarget, {}, "missing_field", "connector_type"),
    ("connect", ConnectTarget, {"connector_type": 5}, "invalid_field", "connector_type"),
    ("connect", ConnectTarget, {"connector_type": "pipe\u202edrive"}, "invalid_field", "connector_type"),
    ("connect", ApiKeyConnectRequest, {"connector_type": "pipedrive"}, "missing_field", "api_key"),
    ("connect", ApiKeyConnectRequest, {"connector_type": "pipedrive", "api_key": 42}, "invalid_field", "api_key"),
    ("connect", ApiKeyConnectRequest, {"connector_type": "pipedrive", "api_key": LONG}, "invalid_credentials",
     "api_key"),
    ("connect", ApiKeyConnectRequest, {"connector_type": "pipedrive", "api_key": "k", "scope": "global"},
     "invalid_field", "scope"),
    ("connect", ApiKeyConnectRequest, {"connector_type": "pipedrive", "api_key": "k", "name": "a\nb"},
     "invalid_field", "name"),
    ("connect", ApiKeyConnectRequest, {"connector_type": "pipedrive", "api_key": "k", "name": "n" * 201},
     "invalid_field", "name"),
    ("connect", OAuthConnectRequest, {"connector_type": "github", "return_to": 5}, "invalid_field", "return_to"),
    ("connect", OAuthConnectRequest, {"connector_type": "github", "owner_user_id": ["usr_x"]}, "invalid_field",
     "owner_user_id"),
    ("connect", WebhookConnectRequest, {"connector_type": "webhook", "name": 7}, "invalid_field", "name"),
    ("connect", HandleConnectRequest, {"connector_type": "twitter", "account_handle": "acme"}, "missing_field",
     "external_account_id"),
    ("connect", HandleConnectRequest, {"connector_type": "twitter", "account_handle": "acme",
                                       "external_account_id": ["1"]}, "invalid_field", "external_account_id"),
    ("connect", HandleConnectRequest, {"connector_type": "twitter", "external_account_id": "1"}, "missing_field",
     "account_handle"),
    # POST /api/v1/connections/resolve
    ("resolveHandle", ResolveRequest, {}, "missing_field", "connector_type"),
    ("resolveHandle", ResolveRequest, {"connector_type": "twitter"}, "missing_field", "account_handle"),
    ("resolveHandle", ResolveRequest, {"connector_type": "twitter", "account_handle": ["acme"]}, "invalid_field",
     "account_handle"),
    ("resolveHandle", ResolveRequest, {"connector_type": "twitter", "account_handle": "a" * 65}, "invalid_field",
     "account_handle"),
    # PATCH /api/v1/connections/{id}
    ("updateConnection", UpdateRequest, {}, "invalid_body", None),
    ("updateConnection", UpdateRequest, {"sync_interval": 60}, "field_not_editable", None),
    ("updateConnection", UpdateRequest, {"name": "  "}, "missing_field", "name"),
    ("updateConnection", UpdateRequest, {"name": None}, "missing_field", "name"),
    ("updateConnection", UpdateRequest, {"name": 5}, "invalid_field", "name"),
    ("updateConnection", UpdateRequest, {"name": "n" * 201}, "invalid_field", "name"),
    ("updateConnection", UpdateRequest, {"name": "a\u202eb"}, "invalid_field", "name"),
    ("updateConnection", UpdateRequest, {"owner_user_id": 5}, "invalid_field", "owner_user_id"),
    ("updateConnection", UpdateRequest, {"access_mode": "everyone"}, "invalid_access_mode", "access_mode"),
    # POST /api/v1/connections/{id}/reconnect
    ("reconnect", ReconnectRequest, {"api_key": 5}, "invalid_field", "api_key"),
    ("reconnect", ReconnectRequest, {"api_key": " "}, "missing_field", "api_key"),
    ("reconnect", ReconnectRequest, {"api_key": LONG}, "invalid_credentials", "api_key"),
    ("reconnect", ReconnectRequest, {"return_to": 5}, "invalid_field", "return_to"),
    # POST /api/v1/connections/{id}/rotate-secret
    ("rotateWebhookSecret", RotateSecretRequest, {"grace_period_seconds": -1}, "invalid_field",
     "grace_period_seconds"),
    ("rotateWebhookSecret", RotateSecretRequest, {"grace_period_seconds": 604801}, "invalid_field",
     "grace_period_seconds"),
    ("rotateWebhookSecret", RotateSecretRequest, {"grace_period_seconds": "60"}, "invalid_field",
     "grace_period_seconds"),
    ("rotateWebhookSecret", RotateSecretRequest, {"grace_period_seconds": True}, "invalid_field",
     "grace_period_seconds"),
    ("rotateWebhookSecret", RotateSecretRequest, {"grace_period_seconds": None}, "invalid_field",
     "grace_period_seconds"),
    # POST /api/v1/query
    ("query", QueryRequest, {}, "query_required", "query"),
    ("query", QueryRequest, {"query": 7}, "query_required", "query"),
    ("query", QueryRequest, {"query": "   "}, "query_required", "query"),
    ("query", QueryRequest, {"query": LONG}, "query_too_long", "query"),
    ("query", QueryRequest, {"query": "a", "limit": 101}, "invalid_field", "limit"),
    ("query", QueryRequest, {"query": "a", "limit": "5"}, "invalid_field", "limit"),
    ("query", QueryRequest, {"query": "a", "offset": 395}, "invalid_field", "offset"),
    ("query", QueryRequest, {"query": "a", "include_reasoning": 1}, "invalid_field", "include_reasoning"),
    ("query", QueryRequest, {"query": "a", "types": [""]}, "invalid_field", "types"),
    ("query", QueryRequest, {"query": "a", "authors": ["x"] * 101}, "invalid_field", "authors"),
    ("query", QueryRequest, {"query": "a", "date_after": "soon"}, "invalid_field", "date_after"),
    ("query", QueryRequest, {"query": "a", "date_after": "2026-02-01", "date_before": "2026-01-01"},
     "invalid_date_range", "date_after"),
    ("query", QueryRequest, {"query": "a", "vector_store_id": ""}, "invalid_field", "vector_store_id"),
    ("query", QueryRequest, {"query": "a", "mode": "fast", "bias": 1}, "unknown_field", "bias"),
    # POST /v1/pipeline/sync: the request's fields (its operations are knowledge.pipeline.plan's)
    ("pipelineSync", PipelineSyncRequest, {}, "missing_field", "organization_id"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "organization_id": 5}, "invalid_field", "organization_id"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "sync_mode": "mirror"}, "invalid_field", "sync_mode"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "sync_mode": " "}, "missing_field", "sync_mode"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "sync_timestamp": "yesterday"}, "invalid_field", "sync_timestamp"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "operations": []}, "invalid_field", "operations"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "operations": {"action": "delete"}}, "invalid_field",
     "operations"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "operations": None}, "missing_field", "operations"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "vector_store_id": None}, "missing_field", "vector_store_id"),
    ("pipelineSync", PipelineSyncRequest, {**SYNC, "mode": "fast"}, "unknown_field", "mode"),
]
IDS = [f"{operation}-{code}-{field}-{i}" for i, (operation, _m, _b, code, field) in enumerate(CASES)]
REQUESTS = {"connect": ("POST", "/api/v1/connections"), "resolveHandle": ("POST", "/api/v1/connections/resolve"),
            "updateConnection": ("PATCH", f"/api/v1/connections/{MISSING}"),
            "reconnect": ("POST", f"/api/v1/connections/{MISSING}/reconnect"),
            "rotateWebhookSecret": ("POST", f"/api/v1/connections/{MISSING}/rotate-secret"),
            "query": ("POST", "/api/v1/query"), "pipelineSync": ("POST", "/v1/pipeline/sync")}
DECLARED = {"connect": ConnectRequest, "resolveHandle": ResolveRequest, "updateConnection": UpdateRequest,
            "reconnect": ReconnectRequest, "rotateWebhookSecret": RotateSecretRequest, "query": QueryRequest,
            "pipelineSync": PipelineSyncRequest}


def refusal_of(model, body) -> dict:
    with pytest.raises(ValidationError) as caught:
        validated(model, body)
    return caught.value.to_dict()["error"]


@pytest.mark.parametrize("operation, model, body, code, field", CASES, ids=IDS)
def test_the_model_refuses_the_bad_shape_with_its_code(operation, model, body, code, field):
    error = refusal_of(model, body)
    assert error["code"] == code, error
    assert error["details"].get("field") == field, error
    assert error["message"]


@pytest.mark.parametrize("operation, model, body, code, field", CASES, ids=IDS)
def test_the_endpoint_answers_its_models_refusal(api, operation, model, body, code, field):
    method, path = REQUESTS[operation]
    response = api.client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"] == refusal_of(model, body)


@pytest.mark.parametrize("operation, model, body, code, field", CASES, ids=IDS)
def test_the_console_and_mcp_paths_refuse_it_the_same_way(app, workspace, operation, model, body, code, field):
    """The domain functions the console's forms (and, for the query, the MCP search tool) call
    with plain dicts refuse the body exactly as the model does."""
    with app.app_context():
        actor = user_actor_for(db.session.merge(workspace[0]), db.session.merge(workspace[1]))
        call = {"connect": lambda: service.connect(actor, body),
                "resolveHandle": lambda: service.resolve_handle(actor, body),
                "updateConnection": lambda: service.update(actor, MISSING, body),
                "reconnect": lambda: service.reconnect(actor, MISSING, body),
                "rotateWebhookSecret": lambda: service.rotate_signing_secret(actor, MISSING, body),
                "query": lambda: search.parse(body),
                "pipelineSync": lambda: pipeline.pipeline_sync(actor, body)}[operation]
        with pytest.raises(ValidationError) as caught:
            call()
        assert caught.value.to_dict()["error"] == refusal_of(model, body)


def test_each_body_is_declared_by_the_model_that_validates_it():
    openapi.build_openapi()  # imports every declaring module
    declared = {e.operation_id: e for e in endpoints.ENDPOINTS}
    for operation, model in DECLARED.items():
        assert declared[operation].body is model, operation
    schemas = openapi.build_openapi()["components"]["schemas"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in schemas["ConnectRequest"]["oneOf"]} == {
        "OAuthConnectRequest", "ApiKeyConnectRequest", "HandleConnectRequest", "WebhookConnectRequest"}
    for name in ("OAuthConnectRequest", "ApiKeyConnectRequest", "HandleConnectRequest", "WebhookConnectRequest"):
        assert schemas[name]["properties"]["connector_type"]["maxLength"] == 64


@pytest.mark.parametrize("raw, code, details", [
    (b'"just text"', "invalid_payload", {}),
    (b"42", "invalid_payload", {}),
    (b'{"id": 1, "readers": []}', "invalid_readers", {"field": "readers"}),
    (b'[{"id": 1}, {"id": 2, "readers": ["somebody"]}]', "invalid_readers", {"field": "readers", "index": 1}),
])
def test_a_webhook_payload_is_refused_by_its_model(raw, code, details):
    """Webhook deliveries: once the signature is verified, the payload is WebhookPayload's (the
    model the endpoint declares) to refuse; tests/api/test_webhooks.py sends them signed."""
    with pytest.raises(ValidationError) as caught:
        webhooks.parse_payload(raw)
    assert (caught.value.code, caught.value.details) == (code, details)
    assert webhooks.parse_payload(b'[{"id": 1, "readers": ["member:usr_1"]}]') == [{"id": 1,
                                                                                   "readers": ["member:usr_1"]}]
    declared = {e.operation_id: e for e in endpoints.ENDPOINTS}
    assert declared["receiveWebhook"].body is webhooks.WebhookPayload


# POST /v1/pipeline/sync's operations: (operation, details.field, details beyond it)
UPSERT = {"action": "upsert", "id": "a", "namespace": "tasks", "content": "c"}
OPERATIONS = [
    ("upsert", None, {}),
    ({"id": "a", "namespace": "tasks"}, "action", {}),
    ({**UPSERT, "action": "merge"}, "action", {}),
    ({**UPSERT, "id": " "}, "id", {}),
    ({**UPSERT, "id": 7}, "id", {}),
    ({**UPSERT, "id": "x" * 501}, "id", {}),
    ({**UPSERT, "id": "a\u202eb"}, "id", {"character": "U+202E"}),
    ({"action": "delete", "id": "a\nb", "namespace": "tasks"}, "id", {"character": "U+000A"}),
    ({**UPSERT, "namespace": "Tasks"}, "namespace", {}),
    ({"action": "delete", "id": "a", "namespace": "tasks", "title": "t"}, "title", {}),
    ({**UPSERT, "colour": "red"}, "colour", {}),
    ({**UPSERT, "content": " ", "title": None}, "content", {}),
    ({**UPSERT, "title": 5}, "title", {}),
    ({**UPSERT, "type": " "}, "type", {}),
    ({**UPSERT, "type": "task\u2028"}, "type", {"character": "U+2028"}),
    ({**UPSERT, "created_at": "yesterday"}, "created_at", {}),
    ({**UPSERT, "updated_at": 1712999999}, "updated_at", {}),
    ({**UPSERT, "metadata": ["x"]}, "metadata", {}),
    ({**UPSERT, "url": "u" * 4097}, "url", {}),
    ({**UPSERT, "author": "ada\x07"}, "author", {"character": "U+0007"}),
    ({**UPSERT, "readers": []}, "readers", {}),
    ({**UPSERT, "readers": ["somebody"]}, "readers", {}),
]


@pytest.mark.parametrize("op, field, details", OPERATIONS, ids=[f"{i}-{f}" for i, (_o, f, _d) in enumerate(OPERATIONS)])
def test_an_operation_is_refused_by_its_model(op, field, details):
    """The operation models are pipeline sync's validation, not a description of it: each bad
    operation is refused by the model alone, and the request's answer (``plan``, which validates
    with them) names the operation, its field and the words the model's refusal said."""
    with pytest.raises(pydantic.ValidationError):
        pydantic.TypeAdapter(Operation).validate_python(op)
    valid, refusal = pipeline_request.operations([UPSERT, op])
    assert [v["id"] for v in valid] == ["a"]
    error = refusal.to_dict()["error"]
    assert error["code"] == "invalid_operation"
    op_id = op.get("id") if isinstance(op, dict) and isinstance(op.get("id"), str) else None
    assert error["details"] == {"operation_index": 1, "id": op_id, "field": field, **details}
    assert error["message"].startswith("Operation 1") and error["message"].endswith(" Nothing was written.")
    with pytest.raises(ValidationError) as caught:
        pipeline.plan([UPSERT, op])
    assert caught.value.code == "invalid_operation" and caught.value.details["field"] == field


def test_a_duplicate_before_a_bad_operation_is_answered_first():
    """Operations are validated together, yet the first bad one by index is answered, as if they
    were checked one by one: a duplicate at 1 before a bad timestamp at 2."""
    ops = [UPSERT, {**UPSERT, "content": "again"}, {**UPSERT, "id": "b", "created_at": "soon"}]
    with pytest.raises(ValidationError) as caught:
        pipeline.plan(ops)
    assert (caught.value.code, caught.value.details["operation_index"]) == ("duplicate_operation", 1)
    with pytest.raises(ValidationError) as caught:
        pipeline.plan([ops[0], ops[2], ops[1]])
    assert (caught.value.code, caught.value.details["operation_index"]) == ("invalid_operation", 1)
