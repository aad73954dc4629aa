"""The OpenAPI 3.1 document of Tributary's JSON API, written as Python data.

``build_openapi()`` returns the whole document; ``/api/v1/openapi.json`` serves it (see
``meta.py``) and ``tests/api/test_openapi.py`` keeps it true: the document validates as
OpenAPI 3.1, every route under ``/api``, ``/v1`` and ``/webhooks`` is documented with the same
methods and scope, and real requests through the app are checked against the documented
status codes and schemas.

Enumerations the code owns (statuses, health values, scopes, categories, connector types per
connect method) are read from the code, so they cannot drift. Everything else (the shapes,
the stable error codes per operation, the prose) is written here and checked by the tests.

Conventions:

* Nullable values are written the 3.1 way, ``type: [..., "null"]`` (``anyOf`` with
  ``{"type": "null"}`` around a ``$ref``).
* Response schemas whose shape is fixed carry ``additionalProperties: false``, so an
  undocumented field fails the contract test.
* Every error is ``{"error": {"code", "message", "details"}}``; each operation lists the
  stable ``code`` values it can produce in its description and as an ``enum`` on ``code``
  in the schema of each error status.
"""
from __future__ import annotations

from copy import deepcopy

from . import endpoints
from .shapes import CONNECTION_ID_EXAMPLE, CONNECTION_ID_PARAMETER, DOCUMENT_ID_EXAMPLE, VECTOR_STORE_ID_EXAMPLE

API_VERSION = "0.1.0"

JSON = "application/json"
SIGNATURE_HEADER = "Tributary-Signature"

# -- stable error codes ------------------------------------------------------------------------
# What each code means, in one sentence. Operations list the codes they can produce; the
# description table and the ``code`` enum of each error response are generated from that list.
ERROR_CODES = {
    # authentication and scopes
    "missing_api_key": "No `Authorization: Bearer <key>` header, or an empty one.",
    "invalid_api_key": "The API key is unknown or revoked.",
    "insufficient_scope": "The key lacks the scope this operation needs; `details.required_scope` names it "
                          "and `details.key_scopes` lists the key's scopes.",
    # lookups
    "not_found": "There is no such connection (or sync job) in the key's workspace. An id from another "
                 "workspace gets exactly the same answer as an id that does not exist.",
    "CHANNEL_NOT_FOUND": "`channel_id` names no channel of the key's workspace (by our `chn_` id, or by the "
                         "provider's channel id when exactly one channel has it) and no connection (`conn_...`). "
                         "An id from another workspace gets exactly the same answer; `details.channel_id` echoes "
                         "the id sent.",
    # request bodies and parameters
    "invalid_json": "The request has a body that is not valid JSON (a body sent with a non-JSON "
                    "`Content-Type` is read as invalid JSON too).",
    "json_too_deep": "The body nests arrays and objects more than 64 levels deep; `details.max_depth` is 64. "
                     "Nothing is written.",
    "invalid_number": "The body has `NaN`, `Infinity` or a number beyond a double (`1e400`): JSON numbers must be "
                      "finite. Nothing is written.",
    "invalid_string": "A string or key of the body has a NUL character (`\\u0000`) or a lone UTF-16 surrogate "
                      "(`\\ud800`); `details.pointer` is its JSON pointer (`/operations/0/content`). Nothing is "
                      "written.",
    "invalid_body": "The body is valid JSON but not an object.",
    "missing_field": "A required field is absent, `null` or blank; `details.field` names it.",
    "invalid_field": "A field has the wrong type or is too long (or `scope` is neither `business` nor "
                     "`personal`), or a name or id has a control, line-break or bidirectional formatting character "
                     "(`details.character`, e.g. `U+202E`); `details.field` names it.",
    "invalid_category": "`category` is not one of the catalog categories; `details.allowed` lists them.",
    "invalid_limit": "`limit` is not a whole number of at least 1.",
    "invalid_parameter": "A query parameter has a value it cannot take (`full` is `true` or `false`), or has a "
                         "NUL character (`%00`); `details.parameter` names it.",
    "missing_parameter": "A required query parameter is absent or blank; `details.parameter` names it.",
    "invalid_schedule": "`schedule` is not a five-field cron expression (minute hour day-of-month month "
                        "day-of-week, e.g. `0 */4 * * *`, read in UTC); `details.field` is `schedule`.",
    "invalid_preset": "`preset` is not one of `1m`, `10m`, `30m`, `1h`, `6h`, `1d` or `null`; `details.allowed` "
                      "lists them.",
    # connecting
    "unknown_connector_type": "`connector_type` is not in the catalog (for `/connections/resolve`: is not a "
                              "handle connector).",
    "connector_not_connectable": "The connector is in the catalog but cannot be connected here: coming soon, "
                                 "not implemented yet, or its OAuth app / provider credentials are not configured "
                                 "by the operator. `details.reason_code` and `details.reason` say which.",
    "invalid_credentials": "The provider did not accept the API key or token (wrong, expired or revoked). Nothing is "
                           "stored.",
    "unknown_credential": "`credentials` has a key this connector does not take; `details.field` names it "
                          "(`credentials.<key>`) and `details.accepted` lists what it takes.",
    "credentials_not_accepted": "The connector takes no token as `credentials`: connect it without them (OAuth: "
                                "the answer's `oauth_url`). `details.auth_method` is its connect method.",
    "connect_method_unsupported": "Handle and webhook connectors are connected with `POST /api/v1/connections` "
                                  "(a resolved account, a signing secret shown once); `details.auth_method` says "
                                  "which.",
    "unknown_setting": "`settings` names a setting this connector does not honour; `details.setting` names the "
                       "first, `details.unknown` all of them and `details.known` those it takes. Nothing is stored.",
    "invalid_setting": "A setting has a value of the wrong shape (`channels`: a list of 1 to 500 names or ids; "
                       "`requests_per_minute` / `requests_per_hour`: a whole number, 0 for no limit); "
                       "`details.setting` names it (and, for a channel with a control, line-break or bidirectional "
                       "formatting character, `details.character` names that). "
                       "Nothing is stored.",
    "already_connected": "The provider account this token belongs to is already connected in the workspace; "
                         "`details.existing_id` is that connection (a disconnected one comes back in place "
                         "instead).",
    "invalid_handle": "`account_handle` is not a well-formed handle (X: 1 to 15 letters, digits or underscores, "
                      "with or without `@`).",
    "handle_not_found": "The provider has no account with that handle.",
    "handle_mismatch": "The handle resolves to a different account than `external_account_id`.",
    "not_a_member": "`owner_user_id` is not a member of this workspace.",
    "provider_unavailable": "The provider could not be reached, answered with an error, or sent a body that "
                            "cannot be read. Nothing is stored.",
    "provider_auth_failed": "The provider refused the operator's credentials (e.g. the X app bearer token).",
    "provider_rate_limited": "The provider's rate limit was hit; `details.retry_after` (seconds, or `null`) and, "
                             "when known, the `Retry-After` header say when to try again.",
    # changing
    "field_not_editable": "The body has fields PATCH cannot change (only `name` and `owner_user_id` are "
                          "editable; sync cadence is a per-connector-type setting); `details.fields` lists them.",
    "owner_not_allowed": "`owner_user_id` can only be set on a personal connection.",
    "connection_healthy": "The connection is `connected` or `syncing` and does not need re-authorization: there "
                          "is nothing to restore. Disconnect it first to re-authorize or replace its credentials.",
    "connection_disconnected": "The connection is disconnected; reconnect it first.",
    "connection_pending": "The connection has not finished connecting (its OAuth authorization is still "
                          "outstanding).",
    "sync_not_supported": "The connector connects but cannot sync yet (a connector whose sync is still to come).",
    "not_a_webhook": "Only a custom webhook source has a signing secret to rotate; `details.connector_type` "
                     "names this connection's type.",
    "run_not_active": "The sync job already ended (`completed`, `failed` or `cancelled`): there is nothing to "
                      "cancel. `details.status` is its status.",
    # platform administration
    "platform_admin_required": "Only the installation's platform admin may do this: the key needs the `admin` "
                               "scope *and* must have been created by the platform admin (the user who set the "
                               "installation up). Any other key, even with `admin`, gets this.",
    # webhooks
    "missing_signature": f"The `{SIGNATURE_HEADER}` header is missing or malformed (it needs `t=` and at least one "
                         "`v1=`).",
    "timestamp_out_of_window": "The signature timestamp `t` is more than 5 minutes (the configured tolerance) "
                               "away from now.",
    "invalid_signature": "No `v1` signature matches the HMAC of the timestamp and the raw body.",
    "invalid_payload": "The body is not JSON, or is JSON but neither an object nor an array, or holds what JSON "
                       "cannot carry (`NaN`, nesting deeper than 64, NUL, a lone surrogate); `details.reason` is then "
                       "the API's code for it (`invalid_number`, `json_too_deep`, `invalid_string`).",
    "replayed_delivery": "This exact delivery (same timestamp and body) was already received.",
    "invalid_readers": "A record of the delivery names `readers` that are not a non-empty list of `member:<user id>`, "
                       "`email:<address>` or `api_key:<key id>` strings (at most 100); `details.field` is `readers`, "
                       "`details.index` the record's position in a batch. Nothing is stored.",
    "payload_too_large": "The body is larger than this endpoint reads: 1 MiB (the API's `API_MAX_BODY_BYTES`, and "
                         "webhooks), 100 MiB for pipeline sync; `details.max_bytes` says how many bytes. Nothing is "
                         "read or written.",
    "internal_error": "Something unexpected went wrong on the server; it has been logged.",
    # vector stores and documents
    "vector_store_not_found": "There is no such vector store in the key's workspace. An id from another workspace "
                              "gets exactly the same answer as an id that does not exist; `details.id` echoes it.",
    "vector_store_exists": "The workspace already has a vector store of that name (names are unique per "
                           "workspace and case-sensitive; `default` is the default store's); `details.name` "
                           "names it.",
    "default_store": "The workspace's default vector store cannot be deleted: connections write into it.",
    "document_not_found": "There is no such document in the key's workspace. An id from another workspace gets "
                          "exactly the same answer as an id that does not exist; `details.id` echoes it.",
    "invalid_cursor": "`cursor` is not a cursor this API returned (pass `next_cursor` back unchanged).",
    "invalid_filter": "A filter has a value outside its allowed set (or `q` is too long); `details.field` names "
                      "it and `details.allowed` lists the values.",
    # pipeline sync
    "unknown_field": "The body has a field this operation does not take; `details.field` names it.",
    "organization_mismatch": "`organization_id` is not the id of the API key's organization (its workspace). Any "
                             "other value, another organization's id or one that does not exist, gets this same "
                             "answer; nothing is written.",
    "too_many_operations": "The request carries more than 5,000 operations; `details.limit` and "
                           "`details.received` say how many are allowed and were sent. Split it into several "
                           "requests. Nothing is written.",
    "invalid_operation": "An operation is malformed; `details.operation_index` (0-based), `details.id` (the "
                         "operation's `id` when it is a string, else `null`) and `details.field` name the first "
                         "bad one. Nothing is written.",
    "duplicate_operation": "Two operations of the request name the same `id` in the same `namespace`; "
                           "`details.operation_index` is the second, `details.first_operation_index` the first. "
                           "Nothing is written.",
    "rate_limited": "The organization sent more than its limit of pipeline-sync requests (100) in the last 60 "
                    "seconds; `Retry-After` and `details.retry_after` say how many seconds to wait.",
    # the federated query
    "query_required": "`query` is absent, `null`, not a string, or blank; `details.field` is `query`.",
    "query_too_long": "`query` is longer than 2,000 characters; `details.field` is `query`.",
    "invalid_date_range": "`date_after` is later than `date_before` (a date-only `date_before` counts to the end of "
                          "its day); `details.field` is `date_after`.",
}

# A realistic body per code (the message and details the server sends), for the examples.
ERROR_EXAMPLES = {
    "missing_api_key": ("Send an API key as `Authorization: Bearer <key>`.", {}),
    "invalid_api_key": ("The API key is missing, unknown or revoked.", {}),
    "insufficient_scope": ("This API key lacks the 'connections:write' scope.",
                           {"required_scope": "connections:write", "key_scopes": ["connections:read"]}),
    "not_found": ("Connection not found.", {"id": "conn_3kq9x0v7m2p1a8bd"}),
    "CHANNEL_NOT_FOUND": ("Channel not found.", {"channel_id": "C12345"}),
    "missing_parameter": ("The query parameter channel_id is required.", {"parameter": "channel_id"}),
    "invalid_schedule": ("schedule is a five-field cron expression, e.g. '0 */4 * * *'.", {"field": "schedule"}),
    "invalid_preset": ("preset is one of 1m, 10m, 30m, 1h, 6h, 1d, or null for the default.",
                       {"allowed": ["1m", "10m", "30m", "1h", "6h", "1d"]}),
    "run_not_active": ("This sync job already ended (completed).", {"status": "completed"}),
    "platform_admin_required": ("Only the platform admin can manage sync cadence.", {}),
    "invalid_json": ("The body is not valid JSON.", {}),
    "json_too_deep": ("The body nests arrays and objects deeper than 64 levels.", {"max_depth": 64}),
    "invalid_number": ("The body has the number NaN, which JSON cannot carry: numbers must be finite and fit a "
                       "double (no NaN, Infinity or 1e400).", {}),
    "invalid_string": ("The body has a NUL character or a lone UTF-16 surrogate at /query: strings and keys must be "
                       "valid Unicode text without NUL.", {"pointer": "/query"}),
    "invalid_body": ("The body must be a JSON object.", {}),
    "missing_field": ("api_key is required.", {"field": "api_key"}),
    "invalid_field": ("scope is business or personal.", {"field": "scope"}),
    "invalid_category": ("Unknown category 'music'.", {"allowed": ["crm", "calls", "comms", "docs", "support",
                                                                   "social", "devtools", "ai", "custom"]}),
    "invalid_limit": ("limit must be a whole number.", {"field": "limit"}),
    "invalid_parameter": ("full is true or false.", {"parameter": "full"}),
    "unknown_connector_type": ("There is no connector type 'myspace' in the catalog.", {"field": "connector_type"}),
    "unknown_credential": ("Pipedrive takes credentials.api_key only, not token.",
                           {"field": "credentials.token", "accepted": ["api_key"]}),
    "credentials_not_accepted": ("Gmail does not take credentials: connect it without them (its connect method is "
                                 "oauth_redirect).", {"field": "credentials", "auth_method": "oauth_redirect"}),
    "connect_method_unsupported": ("X (Twitter) is connected with POST /api/v1/connections (its connect method is "
                                   "handle).", {"field": "connector_type", "auth_method": "handle"}),
    "unknown_setting": ("Pipedrive has no setting 'channels'; its settings are requests_per_minute, "
                        "requests_per_hour.", {"setting": "channels", "unknown": ["channels"],
                                               "known": ["requests_per_minute", "requests_per_hour"]}),
    "invalid_setting": ("requests_per_minute must be a whole number of requests (0 for no limit).",
                        {"setting": "requests_per_minute"}),
    "already_connected": ("That GitHub account is already connected here as 'Eng GitHub'.",
                          {"existing_id": "conn_3kq9x0v7m2p1a8bd"}),
    "connector_not_connectable": ("Circleback cannot be connected: Coming soon.",
                                  {"connector_type": "circleback", "reason_code": "coming_soon",
                                   "reason": "Coming soon"}),
    "invalid_credentials": ("Pipedrive did not accept this key: it is wrong, expired or revoked.",
                            {"provider_status": 401}),
    "invalid_handle": ("An X handle is 1 to 15 letters, digits or underscores, with or without @.",
                       {"field": "account_handle"}),
    "handle_not_found": ("There is no X account @nobody_here_42.", {"handle": "nobody_here_42"}),
    "handle_mismatch": ("@acme resolves to account 1234567890, not 999.", {"field": "external_account_id"}),
    "not_a_member": ("owner_user_id must be a member of this workspace.", {"field": "owner_user_id"}),
    "provider_unavailable": ("Pipedrive answered 503.", {"provider": "Pipedrive", "provider_status": 503}),
    "provider_auth_failed": ("X refused the credentials (401).", {"provider_status": 401}),
    "provider_rate_limited": ("Pipedrive rate limit reached.", {"retry_after": 7.0}),
    "field_not_editable": ("Not editable: sync_interval. Sync cadence is a per-connector-type setting, not a "
                           "connection field.", {"fields": ["sync_interval"], "editable": ["name", "owner_user_id"]}),
    "owner_not_allowed": ("owner_user_id can only be set on a personal connection.", {"field": "owner_user_id"}),
    "connection_healthy": ("This connection is healthy; there is nothing to restore. Disconnect it first to "
                           "re-authorize or replace its credentials.", {"status": "connected"}),
    "connection_disconnected": ("This connection is disconnected; reconnect it before syncing.", {}),
    "connection_pending": ("This connection has not finished connecting yet.", {}),
    "sync_not_supported": ("This connector connects but cannot sync yet.", {}),
    "not_a_webhook": ("Only a webhook source has a signing secret to rotate.", {"connector_type": "pipedrive"}),
    "missing_signature": (f"The {SIGNATURE_HEADER} header is missing or malformed.", {}),
    "timestamp_out_of_window": ("The signature timestamp is more than 300 s away from now.", {}),
    "invalid_signature": ("The signature does not match the payload.", {}),
    "invalid_payload": ("The payload is not valid JSON.", {}),
    "replayed_delivery": ("This delivery was already received.", {}),
    "invalid_readers": ("The delivery's readers cannot be used: 'somebody' is not a reader: use 'member:<user id>', "
                        "'email:<address>' or 'api_key:<key id>'.", {"field": "readers", "index": 0}),
    "payload_too_large": ("The body is larger than 1 MiB, the most this endpoint reads.", {"max_bytes": 1048576}),
    "internal_error": ("Something went wrong on our side. It has been logged.", {}),
    "vector_store_not_found": ("Vector store not found.", {"id": "vs_doesnotexist0000"}),
    "vector_store_exists": ("A vector store named 'support' already exists in this workspace.",
                            {"name": "support"}),
    "default_store": ("The default vector store cannot be deleted: connections write into it.",
                      {"id": "vs_ksvgvhnbj26k3zfi"}),
    "document_not_found": ("Document not found.", {"id": "doc_doesnotexist0000"}),
    "invalid_cursor": ("cursor is not a cursor this API returned.", {"parameter": "cursor"}),
    "invalid_filter": ("health is one of: disconnected, needs_reauth, syncing, rate_limited, error, degraded, "
                       "stale, healthy.", {"field": "health", "allowed": ["disconnected", "needs_reauth", "syncing",
                                                                          "rate_limited", "error", "degraded",
                                                                          "stale", "healthy"]}),
    "unknown_field": ("Unknown field 'mode'; a request has organization_id, sync_mode, operations, "
                      "sync_timestamp, vector_store_id.", {"field": "mode"}),
    "organization_mismatch": ("organization_id is not the organization of this API key.",
                              {"field": "organization_id"}),
    "too_many_operations": ("A request carries at most 5000 operations; this one has 5001. Split it into several "
                            "requests.", {"limit": 5000, "received": 5001}),
    "invalid_operation": ("Operation 2 (id 'task_125'): namespace is 1 to 128 characters: lowercase letters, "
                          "digits, '_', '.' and '-', starting with a letter or digit. Nothing was written.",
                          {"operation_index": 2, "id": "task_125", "field": "namespace"}),
    "duplicate_operation": ("Operation 7 (id 'task_123'): id 'task_123' already has an operation in namespace "
                            "'clickup_tasks' (operation 0); send one operation per id. Nothing was written.",
                            {"operation_index": 7, "id": "task_123", "field": "id", "first_operation_index": 0}),
    "rate_limited": ("Pipeline sync is limited to 100 requests per minute per organization.",
                     {"retry_after": 12, "limit": 100, "window_seconds": 60}),
    "query_required": ("query is required: the text to search for.", {"field": "query"}),
    "query_too_long": ("query is at most 2000 characters.", {"field": "query"}),
    "invalid_date_range": ("date_after must not be later than date_before.", {"field": "date_after"}),
}

STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 401: "Unauthorized", 403: "Forbidden",
               404: "Not Found", 409: "Conflict", 410: "Gone", 413: "Content Too Large",
               422: "Unprocessable Content", 429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway"}

# Error responses shared as ``components.responses``: status -> (name, codes).
STANDARD_ERRORS = {
    401: ("Unauthorized", ("missing_api_key", "invalid_api_key")),
    403: ("Forbidden", ("insufficient_scope",)),
    404: ("NotFound", ("not_found",)),
    500: ("InternalError", ("internal_error",)),
}
AUTH_ERRORS = {401: ["missing_api_key", "invalid_api_key"], 403: ["insufficient_scope"]}
# Every operation that reads a JSON body: one parser (blueprints/api/body.py, core/strict_json.py).
BODY_ERRORS = ["invalid_json", "json_too_deep", "invalid_number", "invalid_string", "invalid_body"]



# -- small helpers --------------------------------------------------------------------------------

def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    """``schema`` or ``null``, the OpenAPI 3.1 way."""
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    schema = dict(schema)
    kind = schema["type"]
    schema["type"] = [*kind, "null"] if isinstance(kind, list) else [kind, "null"]
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return schema


def _string(description: str | None = None, **extra) -> dict:
    schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def _timestamp(description: str) -> dict:
    return {"type": "string", "format": "date-time", "description": description + " (RFC 3339, UTC, `Z`)."}


def _object(properties: dict, *, required=None, description: str | None = None, closed: bool = True,
            **extra) -> dict:
    schema = {"type": "object"}
    if description:
        schema["description"] = description
    schema["required"] = list(properties) if required is None else list(required)
    schema["properties"] = properties
    if closed:
        schema["additionalProperties"] = False
    schema.update(extra)
    return schema


def _json_content(schema: dict, example=None, examples: dict | None = None) -> dict:
    media = {"schema": schema}
    if example is not None:
        media["example"] = example
    if examples:
        media["examples"] = examples
    return {JSON: media}


def _error_schema(codes, details: dict | None = None) -> dict:
    """The error body, with ``code`` narrowed to ``codes`` (and optionally a ``details`` shape)."""
    narrowed = {"code": {"enum": list(codes)}}
    if details:
        narrowed["details"] = details
    return {"allOf": [_ref("Error"), {"properties": {"error": {"properties": narrowed}}}]}


def _error_example(code: str) -> dict:
    message, details = ERROR_EXAMPLES[code]
    return {"error": {"code": code, "message": message, "details": details}}


# -- schemas --------------------------------------------------------------------------------------

def _schemas(enums: dict) -> dict:
    error = _object({
        "error": _object({
            "code": _string("The stable, documented error code. Never renamed; branch on it."),
            "message": _string("A human-readable explanation (may change)."),
            "details": {"type": "object", "description": "Structured context; its keys depend on the code."},
        }),
    }, description="Every error answer of the API and the webhook endpoint.")
    return {
        "WebhookAccepted": _object({"received": {"type": "boolean", "const": True},
                                    "delivery_id": _string(pattern="^whd_[a-z0-9]+$")}),
        "Error": error,
        **_knowledge_schemas(enums),
    }


# -- operations -----------------------------------------------------------------------------------

def _error_table(errors: dict[int, list]) -> str:
    rows = ["| status | code | when |", "| --- | --- | --- |"]
    for status in sorted(errors):
        for entry in errors[status]:
            code, when = entry if isinstance(entry, tuple) else (entry, ERROR_CODES[entry])
            rows.append(f"| {status} | `{code}` | {when} |")
    return "\n".join(rows)


def _error_response(status: int, entries: list, details: dict | None = None) -> dict:
    codes = [entry[0] if isinstance(entry, tuple) else entry for entry in entries]
    standard = STANDARD_ERRORS.get(status)
    if standard and tuple(codes) == standard[1] and details is None:
        return {"$ref": f"#/components/responses/{standard[0]}"}
    first = codes[0]
    response = {
        "description": f"{STATUS_TEXT[status]}: " + ", ".join(f"`{c}`" for c in codes) + ".",
        "content": _json_content(_error_schema(codes, details),
                                 example=_error_example(first)),
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"description": "Seconds to wait before retrying (for a "
                                                              "provider's limit: when the provider said).",
                                               "schema": {"type": "integer"}}}
    return response


def _operation(*, operation_id: str, summary: str, behaviour: str, tag: str, scope: str | None,
               responses: dict, errors: dict[int, list], parameters=None, request_body=None,
               security=None) -> dict:
    errors = {status: list(entries) for status, entries in errors.items()}
    # What the API's shared request handling adds: a size limit wherever a body is read, and
    # NUL refused in every query parameter (blueprints/api/body.py, blueprints/inputs.py).
    if request_body and 413 not in errors:
        errors[413] = ["payload_too_large"]
    if any(param.get("in") == "query" for param in parameters or []):
        named = {entry[0] if isinstance(entry, tuple) else entry for entry in errors.get(422, [])}
        if "invalid_parameter" not in named:
            errors[422] = errors.get(422, []) + ["invalid_parameter"]
    if scope:
        for status, codes in AUTH_ERRORS.items():
            errors.setdefault(status, [])
            named = {entry[0] if isinstance(entry, tuple) else entry for entry in errors[status]}
            errors[status] = [c for c in codes if c not in named] + errors[status]
    errors.setdefault(500, ["internal_error"])
    description = behaviour.strip()
    if scope:
        description += (f"\n\n**Required scope:** `{scope}` (a key with the `admin` scope has every scope).")
    description += "\n\n**Errors** (`{\"error\": {\"code\", \"message\", \"details\"}}`):\n\n" + _error_table(errors)
    operation = {"operationId": operation_id, "summary": summary, "description": description, "tags": [tag]}
    if scope:
        operation["x-required-scope"] = scope
        operation["security"] = security if security is not None else [{"bearerAuth": []}]
    elif security is not None:
        operation["security"] = security
    if parameters:
        operation["parameters"] = parameters
    if request_body:
        operation["requestBody"] = request_body
    all_responses = {str(status): response for status, response in responses.items()}
    for status, entries in errors.items():
        all_responses[str(status)] = _error_response(status, entries)
    operation["responses"] = dict(sorted(all_responses.items()))
    return operation


CONNECTION_ID = CONNECTION_ID_PARAMETER


def _ok(description: str, schema_name: str, example=None, examples=None) -> dict:
    return {"description": description, "content": _json_content(_ref(schema_name), example, examples)}


def _body(schema_name: str, *, required: bool = True, description: str | None = None, examples=None) -> dict:
    body = {"required": required, "content": _json_content(_ref(schema_name), examples=examples)}
    if description:
        body["description"] = description
    return body


def _paths(enums: dict) -> dict:
    return {
        "/webhooks/{connection_id}": {"post": _operation(
            operation_id="receiveWebhook", tag="Webhooks", scope=None,
            security=[{"webhookSignature": []}],
            summary="Deliver a signed payload to a custom webhook source",
            behaviour=f"""
The inbound endpoint of a custom webhook connection (`connector_type: webhook`); its URL is the `webhook_url`
connect returned. Authentication is the signature, not an API key:

```
{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body, keyed with the signing secret>
```

Several `v1=` values may be sent (one matching is enough). After a rotation (`rotate-secret`) the replaced secret
is accepted too until its grace period ends. Deliveries whose `t` is more than 5 minutes from now, or that were
already received (same `t` and body), are refused. The body is a JSON object or array of at most 1 MiB; an
accepted delivery is stored and answered `202`, and queues a sync run of the connection at once (unless one is
waiting): it is searchable about two seconds later. A record may name who may read it: `"readers":
["member:<user id>", "email:<address>", "api_key:<key id>"]` (the pipeline's grammar); without it the record is
workspace-wide.

Checks run in this order: the connection (`404`; any id that is not a webhook connection), `410` when it is
disconnected, the size (`413`), the signature (`401`), the payload (`422`), replays (`409`).
""",
            parameters=[{"name": "connection_id", "in": "path", "required": True,
                         "description": "The webhook connection's id (the last segment of its `webhook_url`).",
                         "schema": {"type": "string", "examples": [CONNECTION_ID_EXAMPLE]}}],
            request_body={"required": True, "description": "Any JSON object or array, at most 1 MiB.",
                          "content": _json_content({"type": ["object", "array"]},
                                                   example={"id": "evt_1", "type": "invoice.paid", "amount": 1200})},
            responses={202: _ok("Accepted and stored.", "WebhookAccepted",
                                example={"received": True, "delivery_id": "whd_p1a8bd3kq9x0v7m2"})},
            errors={
                401: ["missing_signature", "timestamp_out_of_window", "invalid_signature"],
                404: [("not_found", "There is no webhook connection with this id.")],
                409: ["replayed_delivery"],
                410: [("connection_disconnected", "The webhook connection is disconnected; reconnect it (which "
                                                  "issues a new signing secret).")],
                413: ["payload_too_large"],
                422: ["invalid_payload", "invalid_readers"],
            })},

        **_knowledge_paths(enums),
    }


# -- vector stores, documents and pipeline sync (/api/v1/vector-stores, /api/v1/documents, /v1/pipeline/sync) --

ORGANIZATION_ID_EXAMPLE = "org_a8bd3kq9x0v7m2p1"
PIPELINE_API_KEY_HEADER = "X-API-Key"


def _knowledge_schemas(enums: dict) -> dict:
    from knowledge.pipeline import MAX_AUTHOR, MAX_ID, MAX_OPERATIONS, MAX_TYPE, MAX_URL, NAMESPACE_PATTERN, \
        SYNC_MODES

    counter = {"type": "integer", "minimum": 0}
    store_id = _string("The vector store id.", pattern="^vs_[a-z0-9]+$", examples=[VECTOR_STORE_ID_EXAMPLE])
    counts = _object({
        "upserted": {**counter, "description": "Upsert operations applied (a record sent unchanged counts: it is "
                                               "stored as sent)."},
        "deleted": {**counter, "description": "Delete operations applied (deleting an id that is not stored is a "
                                              "no-op and counts)."},
        "failed": {**counter, "description": "Operations that failed: always 0, a request is atomic (one bad "
                                             "operation fails the whole request with a `422`)."},
    })
    def nullable_text(description: str, **extra) -> dict:
        return _nullable(_string(description, **extra))

    upsert = _object({
        "action": {"type": "string", "const": "upsert"},
        "id": _string("The record's id, unique within its namespace.", minLength=1, maxLength=MAX_ID,
                      examples=["task_123"]),
        "namespace": _string("Where the record belongs in the store.", pattern=NAMESPACE_PATTERN,
                             examples=["clickup_tasks"]),
        "title": nullable_text("The record's title."),
        "content": nullable_text("The record's text: what search finds and embeds."),
        "url": nullable_text("Where the record lives at its source.", maxLength=MAX_URL),
        "author": nullable_text("Who wrote it.", maxLength=MAX_AUTHOR),
        "type": nullable_text("The kind of record; default `document`.", minLength=1, maxLength=MAX_TYPE),
        "created_at": nullable_text("When it was created at its source: ISO 8601 (without an offset: UTC)."),
        "updated_at": nullable_text("When it was last updated at its source: ISO 8601 (without an offset: UTC)."),
        "metadata": _nullable({"type": "object", "description": "Free-form metadata, stored as sent (standard JSON: no `NaN` or "
                                                               "`Infinity`, at most 64 levels deep)."}),
        "readers": _nullable({"type": "array", "minItems": 1, "maxItems": 100,
                              "items": {"type": "string", "pattern": "^(member|email|api_key):.+$"},
                              "description": "Who may read the document: `member:<user id>`, `email:<address>` "
                                             "(a member's verified address) or `api_key:<key id>` (a service "
                                             "key). Without it (or `null`) every member may.",
                              "examples": [["email:ada@example.com", "member:usr_abc123"]]}),
    }, required=["action", "id", "namespace"],
        description="Insert or replace a record. It needs `content` or `title` (a non-blank string); `null` "
                    "fields are treated as absent. Unknown fields are refused.",
        anyOf=[{"required": ["title"], "properties": {"title": {"type": "string", "pattern": "\\S"}}},
               {"required": ["content"], "properties": {"content": {"type": "string", "pattern": "\\S"}}}])
    delete = _object({
        "action": {"type": "string", "const": "delete"},
        "id": _string("The record to remove.", minLength=1, maxLength=MAX_ID, examples=["task_122"]),
        "namespace": _string(pattern=NAMESPACE_PATTERN, examples=["clickup_tasks"]),
    }, description="Remove a record. A delete carries only `action`, `id` and `namespace`.")
    return {
        "PipelineUpsertOperation": upsert,
        "PipelineDeleteOperation": delete,
        "PipelineSyncRequest": _object({
            "organization_id": _string("The organization (workspace) id of the API key (`org_...`).",
                                       examples=[ORGANIZATION_ID_EXAMPLE]),
            "sync_mode": {"type": "string", "enum": list(SYNC_MODES),
                          "description": "`incremental`: apply the operations. `full_refresh`: each namespace "
                                         "named by an operation ends up with exactly the request's upserted "
                                         "records (the others are deleted)."},
            "operations": {"type": "array", "minItems": 1, "maxItems": MAX_OPERATIONS,
                           "description": f"At most {MAX_OPERATIONS:,} operations; one per `(namespace, id)`.",
                           "items": {"oneOf": [_ref("PipelineUpsertOperation"), _ref("PipelineDeleteOperation")],
                                     "discriminator": {"propertyName": "action", "mapping": {
                                         "upsert": "#/components/schemas/PipelineUpsertOperation",
                                         "delete": "#/components/schemas/PipelineDeleteOperation"}}}},
            "sync_timestamp": _string("When the sync was initiated: ISO 8601 (without an offset: UTC).",
                                      examples=["2026-04-13T10:30:00Z"]),
            "vector_store_id": _string("The store to sync into (the default store's id is fine too).",
                                       examples=[VECTOR_STORE_ID_EXAMPLE]),
        }, description="Unknown fields are refused."),
        "PipelineSyncCounts": counts,
        "PipelineSyncResponse": _object({
            "status": {"type": "string", "const": "success",
                       "description": "Always `success`: every operation was committed (a request that fails "
                                      "writes nothing and answers an error)."},
            "sync_id": _string("This sync's id, as the audit trail records it.", pattern="^sync_[a-z0-9]+$",
                               examples=["sync_gsv55ral43a6ixke"]),
            "processed": {**counter, "description": "Operations processed: `upserted + deleted + failed`."},
            "results": _ref("PipelineSyncCounts"),
            "by_namespace": {"type": "object", "description": "The same counts per namespace.",
                             "propertyNames": {"pattern": NAMESPACE_PATTERN},
                             "additionalProperties": _ref("PipelineSyncCounts")},
            "processing_time_ms": {**counter, "description": "Time spent validating and writing, up to the "
                                                             "commit, in milliseconds."},
        }, description="The outcome of a pipeline sync (the spec's response)."),
        **_query_schemas(store_id),
    }


def _query_schemas(store_id: dict) -> dict:
    """The schemas of ``POST /api/v1/query`` (``knowledge/search.py``)."""
    from knowledge import search

    most = search.MAX_FILTER_VALUES
    value = {"type": "string", "pattern": "\\S"}

    def filter_values(description: str, example: str) -> dict:
        return {"description": description + f" A list of values (any of them matches; at most {most}), or one "
                                              "string as a list of one; `null` is the same as absent.",
                "anyOf": [value, {"type": "array", "maxItems": most, "items": value}, {"type": "null"}],
                "examples": [[example]]}

    def bound(description: str, examples: list) -> dict:
        return {"type": ["string", "null"], "examples": examples, "description": description + (
            " An ISO 8601 date (`2026-03-01`: the whole day counts, in UTC) or date-time (without an offset: UTC); "
            "`null` or `\"\"` is the same as absent. Compared with each document's date: when it was last updated "
            "at its source, else when it was created there, else when Tributary stored it.")}

    rank = {"type": ["integer", "null"], "minimum": 1}
    return {
        "QueryRequest": _object({
            "query": _string(f"The text to search for (at most {search.MAX_QUERY_CHARS:,} characters; trimmed). "
                             "Words are optional and rank results; text in double quotes is a phrase every result "
                             "must contain (`\"connection reset\"`).", minLength=1, maxLength=search.MAX_QUERY_CHARS,
                             pattern="\\S", examples=["database connections exhausted"]),
            "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": search.MAX_LIMIT,
                      "default": search.DEFAULT_LIMIT,
                      "description": f"How many documents to return, 1 to {search.MAX_LIMIT} (default "
                                     f"{search.DEFAULT_LIMIT}; `null` is the default). A larger value is refused, "
                                     "not capped."},
            "offset": {"type": ["integer", "null"], "minimum": 0, "maximum": search.MAX_RESULTS - 1, "default": 0,
                       "description": f"Skip this many results: `offset: 10, limit: 10` is the second page of ten. "
                                      f"`offset + limit` is at most {search.MAX_RESULTS} (a query pages through its "
                                      f"first {search.MAX_RESULTS} results); `null` is 0. A page past the last "
                                      "result is empty."},
            "include_reasoning": {"type": ["boolean", "null"], "default": False,
                                  "description": "Also return `reasoning`: how the answer came about, in words."},
            "audit_access": {"type": ["boolean", "null"], "default": False,
                             "description": "Admins, where the deployment allows it (`ACCESS_ADMIN_OVERRIDE`): "
                                            "search every document, past what the sources let the asker read. "
                                            "Every such query is audited (`access.override`). Otherwise results "
                                            "are only documents the asker may read (an API key reads as the "
                                            "member who created it; a service key, workspace-wide documents "
                                            "only)."},
            "sources": filter_values("Only documents from these sources: `pipeline` or a connector type "
                                     "(case-insensitive).", "pipeline"),
            "types": filter_values("Only documents of these types (case-insensitive).", "task"),
            "authors": filter_values("Only documents by these authors (case-insensitive, whole value).",
                                     "ada@example.com"),
            "namespaces": filter_values("Only documents in these namespaces (exact).", "clickup_tasks"),
            "date_after": bound("Only documents dated at or after this moment (inclusive).",
                                ["2026-04-01", "2026-04-01T09:00:00Z"]),
            "date_before": bound("Only documents dated at or before this moment (inclusive; a date means until the "
                                 "end of that day).", ["2026-04-30", "2026-04-30T18:00:00+02:00"]),
            "vector_store_id": {"type": ["string", "null"], "minLength": 1, "examples": [VECTOR_STORE_ID_EXAMPLE],
                                "description": "Search this store only (the default store's id includes the "
                                               "connector documents). Absent or `null`: every store of the "
                                               "workspace."},
        }, required=["query"], description="A query: the text, and optionally filters. Unknown fields are refused; "
                                            "`null` is the same as absent."),
        "QueryResponse": _object({
            "results": {"type": "array", "maxItems": search.MAX_LIMIT, "items": _ref("QueryResult"),
                        "description": "At most `limit` documents, best first (descending `score`; ties by `id`). "
                                       "Empty when nothing matched."},
            "reasoning": _nullable(_string("With `include_reasoning: true`: what was searched, the filters, what "
                                           "each search found, the embedding backlog, how many results are weak "
                                           "matches, and why the page's first three results rank where they do "
                                           "with the `score` each shows, in plain text (lines separated by "
                                           "`\\n`; no language model is involved). Otherwise `null`.")),
            "query_id": _string("The query's id in the query log (who asked, when, the filters, the result ids "
                                "and the latency are recorded).", pattern="^qry_[a-z0-9]+$",
                                examples=["qry_xg6pscsktc2ercw5"]),
            "latency_ms": {"type": "number", "minimum": 0, "description": "Time the server spent answering, in "
                                                                          "milliseconds (one decimal)."},
        }, description="The answer to a query."),
        "QueryResult": _object({
            "id": _string("The document id (`GET /api/v1/documents/{document_id}` has all of it).",
                          pattern="^doc_[a-z0-9]+$", examples=[DOCUMENT_ID_EXAMPLE]),
            "content": _string("The passage that matched: the document's chunk the semantic search ranked best, "
                               "else the lexical search's best chunk; for a document not cut into chunks yet, about "
                               f"{search.SNIPPET_CHARS} characters of its text around the first query word (`…` "
                               "marks a cut)."),
            "source": _string("`pipeline` for pipeline-sync data, else the connector type.", examples=["pipeline"]),
            "source_type": _string("The document's type (`task`, `issue`, `message`, ...; `document` unless the "
                                   "source said otherwise).", examples=["task"]),
            "score": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                      "description": "The reciprocal-rank-fusion score divided by its maximum: `1.0` is the best "
                                     "possible (ranked first by every search that ran). It compares results of one "
                                     "query, not across queries."},
            "metadata": _ref("QueryResultMetadata"),
            "url": _nullable(_string("Where the document lives at its source, or `null`.")),
        }, description="One document that matched."),
        "QueryResultMetadata": _object({
            "title": _string("The document's title (may be empty)."),
            "author": _nullable(_string("Who wrote it, or `null`.")),
            "type": _string("The document's type (the same as `source_type`)."),
            "namespace": _string("The grouping inside its store.", examples=["clickup_tasks"]),
            "external_id": _string("The record's id at its source.", examples=["task_123"]),
            "vector_store_id": {**deepcopy(store_id), "description": "The store the document is in (connector "
                                                                    "documents: the default store)."},
            "connection_id": _nullable(_string("The connection that synced it, or `null` for pipeline data.")),
            "created_at": _nullable(_timestamp("When the record was created at its source, or `null` if the source "
                                               "did not say")),
            "updated_at": _nullable(_timestamp("When the record was last updated at its source, or `null` if the "
                                               "source did not say")),
            "chunk": _nullable(_ref("QueryResultChunk")),
            "group": _string("The parent the result belongs to: its `url` without the `#fragment` (the comments "
                             "of one issue and the issue itself share it), or the document's `id` when it has no "
                             "URL. Results with the same `group` can be shown together.",
                             examples=["https://github.com/acme/api/issues/12"]),
            "ranking": _ref("QueryRanking"),
        }, closed=False,
            description="The document's own metadata (as its source sent it), with these fields on top: where a key "
                        "of both exists, the field below wins. Other keys are the document's own."),
        "QueryResultChunk": _object({
            "position": {"type": "integer", "minimum": 0, "description": "The chunk's place in the document, from 0."},
            "heading": _nullable(_string("The heading the chunk falls under, or `null`.")),
            "start": {"type": "integer", "minimum": 0,
                      "description": "Where the chunk starts in the document's `content` (characters)."},
            "end": {"type": "integer", "minimum": 0, "description": "Where it ends (exclusive)."},
        }, description="The chunk `content` was taken from, or `null` when the document is not cut into chunks "
                       "yet (then `content` is an excerpt of its text)."),
        "QueryRanking": _object({
            "semantic_rank": {**rank, "description": "The document's rank (from 1) in the semantic search, by its "
                                                     "best chunk, or `null` when that search did not return it."},
            "semantic_score": {"type": ["number", "null"], "minimum": -1, "maximum": 1,
                               "description": "The cosine similarity of its best chunk to the query, or `null`."},
            "lexical_rank": {**rank, "description": "The document's rank (from 1) in the lexical search, or `null` "
                                                    "when that search did not return it."},
            "matched_terms": {"type": "array", "items": {"type": "string"},
                              "description": "The query's words (lower-case, stop words dropped) and phrases that "
                                             "occur in the document's title, in `content` or in the passage the "
                                             "lexical search found."},
            "weak_match": {"type": "boolean",
                           "description": f"`true` when the result answers the query only weakly: it is not close "
                                          f"in meaning (`semantic_score` under {search.WEAK_MATCH_COSINE}, a "
                                          "threshold calibrated on a labelled set), does not have more than half of "
                                          "the query's words and does not hold a quoted phrase; or it lacks a query "
                                          "word that carries a digit (an invoice number, an error code) whatever "
                                          "else it matches. Weak results are still returned, in rank order: show "
                                          "them as such, not as answers."},
        }, description="Why the document ranks where it does."),
    }


QUERY_ID_EXAMPLE = "qry_xg6pscsktc2ercw5"


def _query_result_example(**overrides) -> dict:
    example = {
        "id": DOCUMENT_ID_EXAMPLE,
        "content": "During the Tuesday deploy the API ran out of database connections: every worker held its "
                   "connections open while waiting on a slow migration. We raised max_connections and added "
                   "PgBouncer.",
        "source": "pipeline", "source_type": "task",
        "score": 1.0,
        "metadata": {"status": "closed", "priority": "high",
                     "title": "Postgres connection pool exhausted", "author": "ada@example.com", "type": "task",
                     "namespace": "clickup_tasks", "external_id": "task_123",
                     "vector_store_id": VECTOR_STORE_ID_EXAMPLE, "connection_id": None,
                     "created_at": "2026-04-01T09:00:00Z", "updated_at": "2026-04-13T10:29:00Z",
                     "chunk": {"position": 0, "heading": None, "start": 0, "end": 187},
                     "group": "https://app.clickup.com/t/task_123",
                     "ranking": {"semantic_rank": 1, "semantic_score": 0.5746, "lexical_rank": 1,
                                 "matched_terms": ["database", "connections", "exhausted"], "weak_match": False}},
        "url": "https://app.clickup.com/t/task_123"}
    example.update(overrides)
    return example


def _query_example(*, reasoning: bool) -> dict:
    second = _query_result_example(
        id="doc_be2nde5zrnstlq4g", score=0.4919, url=None,
        content="Long-running exports fail with connection reset by peer after 60 seconds; the load balancer idle "
                "timeout is too short.",
        metadata={"status": "open", "title": "Connection resets behind the load balancer",
                  "author": "grace@example.com", "type": "task", "namespace": "clickup_tasks",
                  "external_id": "task_140", "vector_store_id": VECTOR_STORE_ID_EXAMPLE, "connection_id": None,
                  "created_at": "2026-04-02T09:00:00Z", "updated_at": "2026-04-10T10:29:00Z",
                  "chunk": {"position": 0, "heading": None, "start": 0, "end": 118},
                  "group": "doc_be2nde5zrnstlq4g",
                  "ranking": {"semantic_rank": 2, "semantic_score": 0.3865, "lexical_rank": None,
                              "matched_terms": [], "weak_match": True}})
    text = None
    if reasoning:
        text = ("Searched 2 vector stores (default, support). Filters: type in task; dated on or after "
                "2026-04-01T00:00:00Z (applied inside both searches).\n"
                "Semantic search: 2 nearest chunks from 2 documents.\n"
                "Lexical search for database, connections, exhausted: 1 matching chunks, 1 documents.\n"
                "Ranked by reciprocal rank fusion: 1/(60 + rank) per search, summed; a result's score is that sum "
                "divided by the best possible, so 1.00 means ranked first by every search that ran.\n"
                "1 of the 2 results is weak: not close in meaning (cosine under 0.42) and without most of the "
                "query's words.\n"
                "#1 'Postgres connection pool exhausted' (pipeline): score 1.00: semantic rank 1 (cosine 0.57), "
                "lexical rank 1; matches 'database', 'connections', 'exhausted'.\n"
                "#2 'Connection resets behind the load balancer' (pipeline): score 0.49: semantic rank 2 "
                "(cosine 0.39); weak match.")
    return {"results": [_query_result_example(), second], "reasoning": text, "query_id": QUERY_ID_EXAMPLE,
            "latency_ms": 73.5}


def _knowledge_paths(enums: dict) -> dict:
    from knowledge import search
    from knowledge.pipeline import MAX_BODY_BYTES, MAX_OPERATIONS, NAMESPACE_PATTERN

    store_missing = ("vector_store_not_found", ERROR_CODES["vector_store_not_found"])
    sync_example = {"organization_id": ORGANIZATION_ID_EXAMPLE, "sync_mode": "incremental",
                    "sync_timestamp": "2026-04-13T10:30:00Z", "vector_store_id": VECTOR_STORE_ID_EXAMPLE,
                    "operations": [
                        {"action": "upsert", "id": "task_123", "namespace": "clickup_tasks",
                         "title": "Ship the pipeline API", "content": "Wire /v1/pipeline/sync to the ingest path.",
                         "url": "https://app.clickup.com/t/task_123", "author": "ada@example.com",
                         "type": "task", "created_at": "2026-04-01T09:00:00Z",
                         "updated_at": "2026-04-13T10:29:00Z", "metadata": {"status": "open"}},
                        {"action": "delete", "id": "task_122", "namespace": "clickup_tasks"},
                        {"action": "upsert", "id": "space_9", "namespace": "clickup_spaces", "title": "Platform"}]}
    return {
        "/api/v1/query": {"post": _operation(
            operation_id="query", tag="Query", scope="query",
            summary="Search the workspace's documents",
            behaviour=f"""
The federated query: finds the documents of the key's workspace that best answer `query` and returns the best
`limit` of them (default {search.DEFAULT_LIMIT}, at most {search.MAX_LIMIT}), each with the passage that matched.

**Where.** With `vector_store_id`, that store only (the default store's id includes the connector documents).
Without it, **every store of the workspace**: the default store (created on first use, at the latest by this call)
and every named store. A `vector_store_id` of another workspace is `404 vector_store_not_found`, exactly like one
that does not exist.

**How.** Two searches run over the stores' chunks, and their rankings are fused:

* *Semantic*: the query (without its quote marks) is embedded with the model the chunks were embedded with, and
  each store's vector index returns its nearest chunks by cosine similarity.
* *Lexical*: full-text search over the chunks (SQLite FTS5 with bm25, PostgreSQL full text with `ts_rank_cd`):
  every query word is optional and ranks (stop words are dropped, unless the query has nothing else), quoted
  phrases are required. Documents stored but not cut into chunks yet are matched word by word in their title and
  text, so a record is found lexically as soon as its sync commits. Chunks still waiting to be embedded (a store's
  `embedding_backlog`) are found by lexical search only.
- **Without the embedding model** (its package not installed, or `EMBEDDING_MODEL` naming a model that is not
  there) the query still answers, from lexical search alone; the reasoning says semantic search is unavailable,
  why, and what fixes it, and so does every vector store's `semantic_search`.

**Score.** Each search ranks documents by their best chunk. The rankings are fused by reciprocal rank fusion: a
document's fused score is the sum, over the searches that returned it, of `1 / ({search.RRF_K} + rank)`.
`score` is that sum **divided by its maximum** (the sum for a document ranked first by every search that ran), so
`1.0` is the best possible score. Scores compare the results of one query, not results across queries. Results come best
first (descending `score`, ties by `id`); `metadata.ranking` shows each document's rank in each search.

**Filters are applied inside the search.** `sources`, `types`, `authors`, `namespaces`, `date_after` and
`date_before` restrict both searches themselves (the vector search gets the allowed chunks, the lexical search has
them in its SQL); they do not thin out a finished result list. So a filtered query still returns `limit` results
when that many matching documents exist. Each list filter matches any of its values (at most
{search.MAX_FILTER_VALUES}; one string counts as a list of one); different filters combine with AND.
`sources` (`pipeline` or a connector type), `types` and `authors` match case-insensitively, `namespaces` exactly.

**Dates.** A document's date is when it was last updated at its source, else when it was created at its source,
else when Tributary stored it. `date_after` and `date_before` are inclusive bounds on it. An ISO 8601 date
(`2026-03-01`) covers the whole day in UTC: `date_after` from its first moment, `date_before` to its last, so
`date_after` = `date_before` = one day is that day. A date-time without an offset is UTC. `date_after` later than
`date_before` is `422 invalid_date_range`.

**Phrases.** Text in double quotes (`"connection reset"`) must occur in every result: its words, in that order, as
whole words (case and punctuation aside; no stemming). Both searches are restricted to chunks that contain every
phrase, so a phrase that occurs nowhere gives no results; a document not chunked yet must contain each phrase in
its title or text (case aside). The rest of the query is optional and only ranks.

**Results.** `content` is the matched passage: the document's chunk the semantic search ranked best, else the
lexical search's best chunk, or for a document not chunked yet an excerpt of its text (`metadata.chunk` is then
`null`). `metadata` is the document's own metadata with Tributary's fields on top (`title`, `author`, `type`,
`namespace`, `external_id`, `vector_store_id`, `connection_id`, `created_at` and `updated_at` at the source, `chunk`,
`ranking`); where a key exists in both, Tributary's wins.

**Reasoning.** With `include_reasoning: true`, `reasoning` says in plain text what was searched, which filters
applied, what each search found (and what is still waiting to be embedded) and why the top three results rank
where they do. It is assembled from the search itself; no language model is involved. Otherwise it is `null`.

**Recorded.** Every query is recorded in the workspace's query log (who asked, when, the filters, the result ids,
the latency) under `query_id`; `latency_ms` is the time the server spent on it.

**The body.** `query` is required; every other field is optional, and `null` is the same as absent. Unknown fields
are refused (`422 unknown_field`); an empty body is `422 query_required`. Checks run in this order: the key (`401`,
`403`), the body (`422`: `unknown_field`, then the fields, `details.field` naming the first bad one), then
`vector_store_id` (`404`).
""",
            request_body=_body("QueryRequest", examples={
                "simple": {"summary": "Just the text", "value": {"query": "database connections exhausted"}},
                "filtered": {"summary": "Filters, a limit and the reasoning", "value": {
                    "query": "database connections exhausted", "limit": 5, "include_reasoning": True,
                    "types": ["task"], "date_after": "2026-04-01"}},
                "every_field": {"summary": "Every field", "value": {
                    "query": '"connection pool" postgres', "limit": 20, "include_reasoning": False,
                    "sources": ["pipeline"], "types": ["task", "incident"], "authors": ["ada@example.com"],
                    "namespaces": ["clickup_tasks"], "date_after": "2026-04-01",
                    "date_before": "2026-04-30T18:00:00+02:00", "vector_store_id": VECTOR_STORE_ID_EXAMPLE}}}),
            responses={200: _ok("The best documents, best first.", "QueryResponse", examples={
                "with_reasoning": {"summary": "The `filtered` request, with reasoning",
                                   "value": _query_example(reasoning=True)},
                "without_reasoning": {"summary": "Without reasoning", "value": _query_example(reasoning=False)},
                "nothing_matched": {"summary": "Nothing matched", "value": {
                    "results": [], "reasoning": None, "query_id": "qry_c6kbd2w1ruq0x5mn", "latency_ms": 9.2}}})},
            errors={
                404: [("vector_store_not_found", "`vector_store_id` names no store of the key's workspace. An id from "
                                                 "another workspace gets exactly the same answer as an id that does "
                                                 "not exist; `details.id` echoes it.")],
                422: BODY_ERRORS + [
                    ("unknown_field", "The body has a field a query does not take (it takes `query`, `limit`, "
                                      "`include_reasoning`, `sources`, `date_after`, `date_before`, `authors`, "
                                      "`types`, `vector_store_id`, `namespaces`); `details.field` names the first, "
                                      "alphabetically."),
                    "query_required",
                    ("query_too_long", f"`query` is longer than {search.MAX_QUERY_CHARS:,} characters; "
                                       "`details.field` is `query`."),
                    ("invalid_field", f"`limit` is not an integer from 1 to {search.MAX_LIMIT}, "
                                      "`include_reasoning` is not a boolean, `vector_store_id` is not a non-empty "
                                      "string, `date_after` or `date_before` is not an ISO 8601 date or date-time, "
                                      "or `sources`, `types`, `authors` or `namespaces` is not a non-blank string or "
                                      f"a list of at most {search.MAX_FILTER_VALUES} non-blank strings; "
                                      "`details.field` names it."),
                    "invalid_date_range"],
            })},
        "/v1/pipeline/sync": {"post": _operation(
            operation_id="pipelineSync", tag="Pipeline sync", scope="pipeline",
            security=[{"pipelineApiKey": []}, {"bearerAuth": []}],
            summary="Sync records from a pipeline platform",
            behaviour=f"""
The unified endpoint of the pipeline-sync spec: upserts and deletes records in a vector store, **atomically**.
Authenticate with a pipeline API key (a workspace key with the `pipeline` scope) in `{PIPELINE_API_KEY_HEADER}`;
`Authorization: Bearer` works too.

**Atomic.** Every operation of a request is committed in one transaction, or none is. Everything is validated
before anything is written: a bad operation fails the whole request with `422` and `details.operation_index`,
`details.id` and `details.field` naming it. So `status` is always `success` and `failed` always `0` in an answer.

**Operations.** `action` is `upsert` or `delete`; `id` (1 to 500 characters) and `namespace`
(`{NAMESPACE_PATTERN}`) name the record. `id`, `type` and `author` are names: no control, line-break or
bidirectional formatting character (`422 invalid_operation` with `details.character`). An upsert carries the record: `content` and/or `title` (at least one
non-blank), and optionally `url`, `author`, `type` (default `document`), `created_at` / `updated_at` (ISO 8601;
without an offset, UTC) and `metadata` (an object); `null` is the same as absent. A delete carries nothing else.
Unknown fields are refused, in the body and in operations. An `id` may appear once per namespace in a request
(`422 duplicate_operation` otherwise), so the result never depends on the order of operations. Deleting an id
that is not stored is a no-op and succeeds. An upsert whose record is unchanged (same content hash) writes
nothing. Records land in the store as documents with `source: pipeline`; they are chunked and embedded after the
commit, on the embedding queue.

**Modes.** `incremental` applies the operations. `full_refresh` clears each namespace named by an operation and
writes the request's records: the namespace ends up with exactly the upserted records. It is done as upsert plus
deleting the namespace's other documents, the same end state without rewriting (and re-embedding) unchanged
records. Namespaces not named in the request are untouched.

**Counts.** `processed` is the number of operations, `upserted` and `deleted` count upsert and delete operations
(all of them), in total and per namespace (`by_namespace`). The documents a `full_refresh` removed without a
delete operation are recorded in the audit trail (`pipeline.sync`, with `sync_id`).

**Limits.** At most {MAX_OPERATIONS:,} operations per request (`413 too_many_operations`) and a body of at most
{MAX_BODY_BYTES // (1024 * 1024)} MiB (`413 payload_too_large`). At most 100 requests per minute per organization,
in any sliding 60 seconds, shared by every process (`429 rate_limited` with `Retry-After`): every authenticated
request counts, refused ones included, except those answered `429`.

**Organization and store.** `organization_id` must be the key's organization (workspace) id; any other value is
`403 organization_mismatch` (whether or not that organization exists). `vector_store_id` must name a store of the
key's workspace (the default store or a named one); another workspace's store is `404 vector_store_not_found`,
like one that does not exist.

Checks run in this order: the key (`401`, `403 insufficient_scope`), the rate limit (`429`), the body and its
fields (`413 payload_too_large`, `422`), the number of operations (`413 too_many_operations`), `organization_id`
(`403`), `vector_store_id` (`404`), then the operations in order (`422`).
""",
            request_body=_body("PipelineSyncRequest", examples={
                "incremental": {"value": sync_example},
                "full_refresh": {"value": {**sync_example, "sync_mode": "full_refresh",
                                           "operations": sync_example["operations"][:1]}}}),
            responses={200: _ok("Every operation was committed.", "PipelineSyncResponse", example={
                "status": "success", "sync_id": "sync_gsv55ral43a6ixke", "processed": 3,
                "results": {"upserted": 2, "deleted": 1, "failed": 0},
                "by_namespace": {"clickup_tasks": {"upserted": 1, "deleted": 1, "failed": 0},
                                 "clickup_spaces": {"upserted": 1, "deleted": 0, "failed": 0}},
                "processing_time_ms": 12})},
            errors={
                401: [("missing_api_key", f"No `{PIPELINE_API_KEY_HEADER}` header (and no "
                                          "`Authorization: Bearer <key>`), or an empty one."),
                      "invalid_api_key"],
                403: ["organization_mismatch"],
                404: [store_missing],
                413: ["too_many_operations",
                      ("payload_too_large", f"The body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB.")],
                422: BODY_ERRORS + [
                    "unknown_field",
                    ("missing_field", "A field of the body is absent, `null` or blank: `organization_id`, "
                                      "`sync_mode`, `operations`, `sync_timestamp` or `vector_store_id`; "
                                      "`details.field` names it."),
                    ("invalid_field", "A field of the body has the wrong type or value: `sync_mode` is not "
                                      "`incremental` or `full_refresh` (`details.allowed` lists them), "
                                      "`sync_timestamp` is not ISO 8601, `operations` is not a non-empty array; "
                                      "`details.field` names it."),
                    "invalid_operation", "duplicate_operation"],
                429: ["rate_limited"],
            })},
    }


# -- the document ---------------------------------------------------------------------------------

def _declaring_modules() -> None:
    """Import every module of the JSON API's blueprints, so each ``@endpoint`` has declared
    itself (a new module under ``blueprints/api`` needs no registration here)."""
    import importlib
    import pkgutil

    from blueprints import api

    for module in pkgutil.iter_modules(api.__path__):
        importlib.import_module(f"{api.__name__}.{module.name}")


def _named(entries: list) -> set[str]:
    return {entry[0] if isinstance(entry, tuple) else entry for entry in entries}


def _declared_operation(declared: endpoints.Endpoint) -> dict:
    """One declared endpoint as an operation, in the same conventions as the hand-kept ones."""
    errors = {status: list(entries) for status, entries in declared.errors.items()}
    request_body = None
    if declared.body is not None:
        # What the one parser and the body's model refuse, unless the operation says it more precisely.
        own = errors.get(422, [])
        model_codes = [] if declared.body_checked_by else endpoints.body_codes(declared.body)
        added = [code for code in BODY_ERRORS + model_codes if code not in _named(own)]
        errors[422] = added + own
        request_body = _body(endpoints.model_name(declared.body), required=declared.body_required,
                             examples=declared.body_examples)
    behaviour = declared.behaviour() if callable(declared.behaviour) else declared.behaviour
    return _operation(
        operation_id=declared.operation_id, summary=declared.summary, behaviour=behaviour, tag=declared.tag,
        scope=declared.scope, security=declared.security, errors=errors, request_body=request_body,
        parameters=endpoints.query_parameters(declared) or None,
        responses={status: _ok(ok.description, endpoints.model_name(ok.model), ok.example, ok.examples)
                   for status, ok in declared.responses.items()})


def declared_document(registry: list[endpoints.Endpoint]) -> tuple[dict, dict]:
    """The paths and schemas of declared endpoints."""
    paths: dict[str, dict] = {}
    for declared in registry:
        item = paths.setdefault(declared.path, {})
        if declared.path_parameters:
            if item.setdefault("parameters", declared.path_parameters) != declared.path_parameters:
                raise RuntimeError(f"{declared.path}: its operations declare different path parameters")
        item[declared.method.lower()] = _declared_operation(declared)
    return paths, endpoints.schemas(registry, endpoints.COMPONENTS if registry is endpoints.ENDPOINTS else ())


def _merged(kind: str, hand_kept: dict, declared: dict) -> dict:
    """Hand-kept and declared entries together; a name (or operation) written in both is refused,
    so a migrated operation cannot leave its old copy behind."""
    merged = dict(hand_kept)
    for name, value in declared.items():
        if kind == "paths" and name in merged:
            twice = set(merged[name]) & set(value) - {"parameters"}
            if twice:
                raise RuntimeError(f"{name} {sorted(twice)}: declared with @endpoint and written in openapi.py")
            merged[name] = {**merged[name], **value}
        elif name in merged:
            raise RuntimeError(f"components.schemas.{name}: declared as a model and written in openapi.py")
        else:
            merged[name] = value
    return merged

def _enums() -> dict:
    from accounts.models import SCOPES as API_SCOPES
    from connections.health import HEALTH_VALUES
    from connections.models import STATUSES
    from connections.service import SCOPES
    from connectors import registry
    from connectors.base import AUTH_METHODS, AVAILABILITY, CATEGORIES, DIRECTIONS, OWNERSHIPS
    from sync.models import ERROR_REASONS, MODES, RUN_STATUSES, TRIGGERS

    connector_types = {method: [] for method in AUTH_METHODS}
    for connector_type, cls in registry.connector_classes().items():
        connector_types[cls.catalog.auth_method].append(connector_type)
    return {
        "api_scopes": list(API_SCOPES), "health": list(HEALTH_VALUES), "connection_statuses": list(STATUSES),
        "scopes": list(SCOPES), "auth_methods": list(AUTH_METHODS), "availability": list(AVAILABILITY),
        "categories": list(CATEGORIES), "directions": list(DIRECTIONS), "ownerships": list(OWNERSHIPS),
        "error_reasons": list(ERROR_REASONS), "modes": list(MODES), "run_statuses": list(RUN_STATUSES),
        "triggers": list(TRIGGERS), "connector_types": {m: sorted(t) for m, t in connector_types.items()},
    }


def _standard_responses(enums: dict) -> dict:
    responses = {}
    for status, (name, codes) in STANDARD_ERRORS.items():
        details = None
        if status == 403:
            details = {"type": "object", "required": ["required_scope", "key_scopes"],
                       "properties": {"required_scope": {"type": "string", "enum": enums["api_scopes"]},
                                      "key_scopes": {"type": "array",
                                                     "items": {"type": "string", "enum": enums["api_scopes"]}}}}
        responses[name] = {
            "description": f"{STATUS_TEXT[status]}: " + ", ".join(f"`{c}`" for c in codes) + ".",
            "content": _json_content(_error_schema(codes, details), example=_error_example(codes[0])),
        }
    return responses


def build_openapi() -> dict:
    """The OpenAPI 3.1 document of the JSON API (``/api/v1``, ``/api/sync*``, ``/api/admin/*``,
    ``/v1/pipeline/sync``) and the webhook endpoint."""
    enums = _enums()
    _declaring_modules()
    declared_paths, declared_schemas = declared_document(endpoints.ENDPOINTS)
    paths = _merged("paths", _paths(enums), declared_paths)
    schemas = _merged("schemas", _schemas(enums), declared_schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tributary API",
            "version": API_VERSION,
            "summary": "Connect a workspace's SaaS tools, watch their sync, search what they hold, receive signed "
                       "webhooks.",
            "description": (
                "The JSON API of a Tributary console. Authenticate with a workspace API key (console: *API "
                "keys*) sent as `Authorization: Bearer trb_...`. Keys carry scopes: "
                + ", ".join(f"`{s}`" for s in enums["api_scopes"])
                + " (`admin` implies every other scope); each operation names the one it needs "
                "(`x-required-scope`).\n\n"
                "Every error is `{\"error\": {\"code\", \"message\", \"details\"}}` with a stable `code` that is "
                "never renamed; each operation lists the codes it can produce. Unknown paths answer "
                "`404 not_found` and unsupported methods `405 method_not_allowed` (with an `Allow` header and "
                "`details.allowed`) in the same shape.\n\n"
                "Bodies are standard JSON (RFC 8259) of at most 1 MiB (`413 payload_too_large`; pipeline sync: "
                "100 MiB): `NaN`, `Infinity` and numbers beyond a double (`422 invalid_number`), nesting deeper "
                "than 64 levels (`422 json_too_deep`), and strings with NUL or lone surrogates "
                "(`422 invalid_string`) are refused before anything is read or written. A NUL (`%00`) in a query "
                "parameter is `422 invalid_parameter`. Names and ids (connection and vector store names, pipeline "
                "ids, types and authors) may not contain control, line-break or bidirectional formatting "
                "characters.\n\n"
                "Every read and write is scoped to the key's workspace: a connection, channel or job id from another "
                "workspace is answered exactly like an id that does not exist. Timestamps are RFC 3339 in UTC with "
                "a `Z`.\n\n"
                "The connections API lives under `/api/v1`; the channel-scoped sync-jobs API (`/api/sync*`) and the "
                "platform-admin endpoints (`/api/admin/*`) keep the unversioned paths their specs name, and so does "
                "pipeline sync (`/v1/pipeline/sync`), which also takes its key as `X-API-Key: trb_...`. A failed "
                "sync job carries the sync-jobs spec's error object (`AUTH_ERROR`, `RATE_LIMIT`, "
                "`PLATFORM_ERROR`, `INTERNAL_ERROR`) in its status and history; errors of a request are the "
                "standard error body above."),
        },
        "servers": [{"url": "/", "description": "This Tributary console (set `TRIBUTARY_PUBLIC_URL` behind a "
                                                "proxy)."}],
        "tags": [
            {"name": "Catalog", "description": "What can be connected."},
            {"name": "Connections", "description": "Connect, inspect, update, disconnect and reconnect sources."},
            {"name": "Sync", "description": "Sync runs: history and on-demand requests."},
            {"name": "Sync jobs", "description": "Channel-scoped sync jobs (`/api/sync*`, the sync-jobs spec): "
                                                 "start, status and progress, history, cancel, cron schedules."},
            {"name": "Platform admin", "description": "Installation-wide settings for the platform admin: "
                                                      "connector cadence."},
            {"name": "Vector stores", "description": "Named indexes of a workspace: the default store "
                                                     "(connections write into it) and named ones."},
            {"name": "Documents", "description": "The knowledge store's documents: list, fetch, delete."},
            {"name": "Query", "description": "The federated query: semantic and lexical search over a workspace's "
                                             "vector stores, fused, with filters applied inside the search."},
            {"name": "Pipeline sync", "description": "Atomic upserts and deletes from pipeline platforms into "
                                                     "a vector store (`/v1/pipeline/sync`, the pipeline-sync "
                                                     "spec)."},
            {"name": "Connectors", "description": "The connectors API of the connectors-and-sync spec "
                                                  "(`/v1/connectors`): the same connections, with the spec's "
                                                  "field names and connector states."},
            {"name": "Meta", "description": "The calling key and this document."},
            {"name": "Webhooks", "description": "Inbound deliveries to custom webhook sources."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": _standard_responses(enums),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "trb_<random>",
                               "description": "A workspace API key: `Authorization: Bearer trb_...`."},
                "pipelineApiKey": {"type": "apiKey", "in": "header", "name": PIPELINE_API_KEY_HEADER,
                                   "description": "A workspace API key with the `pipeline` scope, as the "
                                                  "pipeline-sync spec sends it: `X-API-Key: trb_...`."},
                "webhookSignature": {
                    "type": "apiKey", "in": "header", "name": SIGNATURE_HEADER,
                    "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256>`: the HMAC of `\"<t>.\"` followed by the "
                                   "raw body, keyed with the connection's signing secret (returned once by "
                                   "connect / reconnect / rotate-secret; after a rotation the replaced secret "
                                   "works until its grace period ends). `t` must be within 5 minutes of now."},
            },
        },
    }
