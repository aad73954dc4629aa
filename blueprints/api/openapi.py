"""The OpenAPI 3.1 document of Tributary's JSON API, generated from the declared endpoints.

Every operation is declared once, beside its view, with ``endpoints.endpoint`` (its route,
scope, request and response models, prose, examples and stable error codes); ``build_openapi()``
imports the views, turns each declaration into an operation and the models into
``components.schemas``. What is written here is what every operation shares: the catalogue of
stable error codes (``ERROR_CODES``, with a realistic body per code in ``ERROR_EXAMPLES``), the
error body and its standard responses, how an operation's error table and ``code`` enums are
built, the document's info, tags and security schemes. ``/api/v1/openapi.json`` serves it
(``meta.py``) and ``tests/api/test_openapi.py`` keeps it true: the document validates as OpenAPI
3.1, every route under ``/api``, ``/v1`` and ``/webhooks`` is documented with the same methods
and scope, and real requests through the app are checked against the documented status codes and
schemas.

Conventions:

* Nullable values are written the 3.1 way, ``type: [..., "null"]`` (``anyOf`` with
  ``{"type": "null"}`` around a ``$ref``); ``endpoints.OpenApiSchema`` writes pydantic's
  schemas so.
* Response schemas whose shape is fixed carry ``additionalProperties: false`` (a
  ``ResponseModel``), so an undocumented field fails the contract test.
* Every error is ``{"error": {"code", "message", "details"}}``; each operation lists the
  stable ``code`` values it can produce in its description and as an ``enum`` on ``code``
  in the schema of each error status.
"""
from __future__ import annotations

from . import endpoints

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
    "invalid_access_mode": "`access_mode` is neither `workspace` nor `source`; `details.allowed` lists them.",
    "access_mode_not_allowed": "`access_mode` was sent for a personal connection, whose documents are its owner's: "
                               "it has no access mode.",
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
    # the account surfaces: limits and members
    "limit_exceeded": "The workspace is at a limit its operator configured (`GET /api/v1/subscription`); "
                      "`details.limit` names it (`connections`, `documents`, `queries_per_day`, "
                      "`pipeline_operations_per_day`), `details.limit_value`, `details.used` and `details.requested` "
                      "say how far, and a daily limit's `details.resets_at` when it counts again (the next UTC "
                      "midnight). Nothing is written.",
    "last_admin": "The member is the workspace's only admin: they can be neither made a member nor removed until "
                  "another member is an admin. `details.user_id` names them.",
    "already_member": "The address belongs to a member of this workspace already; `details.user_id` names them.",
    "invalid_email": "`email` is not an e-mail address; `details.field` is `email`.",
    "invalid_role": "`role` is neither `admin` nor `member`; `details.field` is `role`, `details.allowed` lists them.",
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
    "invalid_access_mode": ("access_mode is workspace (every member reads everything it syncs) or source (each "
                            "record's readers at the source).",
                            {"field": "access_mode", "allowed": ["workspace", "source"]}),
    "access_mode_not_allowed": ("A personal connection's documents are its owner's; it has no access mode.",
                                {"field": "access_mode"}),
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
    "limit_exceeded": ("This workspace has reached its limit of 10,000 queries per day (UTC day): the operator sets "
                       "it with LIMIT_QUERIES_PER_DAY. Nothing was written.",
                       {"limit": "queries_per_day", "limit_value": 10000, "used": 10000, "requested": 1,
                        "resets_at": "2026-12-07T00:00:00Z"}),
    "last_admin": ("Ada Admin is this workspace's only admin and cannot be removed: make another member an admin "
                   "first.", {"user_id": "usr_xcfarsgfkzypkol4"}),
    "already_member": ("That person is already a member of this workspace.", {"user_id": "usr_xcfarsgfkzypkol4"}),
    "invalid_email": ("Enter a valid e-mail address.", {"field": "email"}),
    "invalid_role": ("Role is admin or member.", {"field": "role", "allowed": ["admin", "member"]}),
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


def _string(description: str | None = None, **extra) -> dict:
    schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


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

def _error_component() -> dict:
    """The one error body every error answer of the API has (each operation narrows its ``code``)."""
    error = _object({
        "error": _object({
            "code": _string("The stable, documented error code. Never renamed; branch on it."),
            "message": _string("A human-readable explanation (may change)."),
            "details": {"type": "object", "description": "Structured context; its keys depend on the code."},
        }),
    }, description="Every error answer of the API and the webhook endpoint.")
    return {"Error": error}


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


def _ok(description: str, schema_name: str, example=None, examples=None) -> dict:
    return {"description": description, "content": _json_content(_ref(schema_name), example, examples)}


def _body(schema_name: str, *, required: bool = True, description: str | None = None, examples=None) -> dict:
    body = {"required": required, "content": _json_content(_ref(schema_name), examples=examples)}
    if description:
        body["description"] = description
    return body


# -- the document ---------------------------------------------------------------------------------

def _declaring_modules() -> list[str]:
    """Import every module of the JSON API's blueprints, so each ``@endpoint`` has declared
    itself (a new module under ``blueprints/api`` needs no registration here); their names, in
    the order the document lists their operations."""
    import importlib
    import pkgutil

    from blueprints import api

    names = [f"{api.__name__}.{module.name}" for module in pkgutil.iter_modules(api.__path__)] + ["blueprints.webhooks"]
    for name in names:
        importlib.import_module(name)
    return names


def _in_module_order(registry: list[endpoints.Endpoint], modules: list[str]) -> list[endpoints.Endpoint]:
    """The declarations by module (``modules``' order), each module's in the order it declares
    them: the document is the same whichever module a process happened to import first (a test
    that imported the webhooks first used to reorder its paths and the generated SDK types)."""
    rank = {name: position for position, name in enumerate(modules)}
    return sorted(registry, key=lambda declared: rank.get(getattr(declared.view, "__module__", None), len(rank)))


def _named(entries: list) -> set[str]:
    return {entry[0] if isinstance(entry, tuple) else entry for entry in entries}


def _declared_operation(declared: endpoints.Endpoint) -> dict:
    """One declared endpoint as an operation, in the same conventions as the hand-kept ones."""
    errors = {status: list(entries) for status, entries in declared.errors.items()}
    request_body = None
    if declared.body is not None:
        # What the one parser and the body's model refuse, unless the operation says it more precisely.
        own = errors.get(422, [])
        model_codes = endpoints.body_codes(declared.body)
        parser_codes = BODY_ERRORS if declared.json_parser else []
        added = [code for code in parser_codes + model_codes if code not in _named(own)]
        errors[422] = added + own
        request_body = _body(endpoints.model_name(declared.body), required=declared.body_required,
                             examples=declared.body_examples)
    behaviour = declared.behaviour() if callable(declared.behaviour) else declared.behaviour
    return _operation(
        operation_id=declared.operation_id, summary=declared.summary, behaviour=behaviour, tag=declared.tag,
        scope=declared.scope, security=declared.security, errors=errors, request_body=request_body,
        parameters=endpoints.query_parameters(declared) or None,
        responses={status: _declared_ok(ok) for status, ok in declared.responses.items()})


def _declared_ok(ok: endpoints.Ok) -> dict:
    response = _ok(ok.description, endpoints.model_name(ok.model), ok.example, ok.examples)
    response["content"].update(ok.also or {})
    return response


def declared_document(registry: list[endpoints.Endpoint], components=None) -> tuple[dict, dict]:
    """The paths and schemas of declared endpoints (``components``: the models shown although no
    endpoint names them; the app's own when ``registry`` is)."""
    paths: dict[str, dict] = {}
    for declared in registry:
        item = paths.setdefault(declared.path, {})
        if declared.path_parameters:
            if item.setdefault("parameters", declared.path_parameters) != declared.path_parameters:
                raise RuntimeError(f"{declared.path}: its operations declare different path parameters")
        item[declared.method.lower()] = _declared_operation(declared)
    if components is None:
        components = endpoints.COMPONENTS if registry is endpoints.ENDPOINTS else ()
    return paths, endpoints.schemas(registry, components)


def with_error_component(declared: dict) -> dict:
    """The declared schemas and the one error body, the only schema written here (a model of
    that name is refused rather than shadowed)."""
    if "Error" in declared:
        raise RuntimeError("components.schemas.Error: the error body is written in openapi.py, not declared as a "
                           "model")
    return {**_error_component(), **declared}


def _enums() -> dict:
    """What the parts written here read from the code: the API keys' scopes."""
    from accounts.models import SCOPES as API_SCOPES

    return {"api_scopes": list(API_SCOPES)}


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
    from . import pipeline

    enums = _enums()
    modules = _declaring_modules()
    paths, declared_schemas = declared_document(_in_module_order(endpoints.ENDPOINTS, modules), endpoints.COMPONENTS)
    schemas = with_error_component(declared_schemas)
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
            {"name": "Actions", "description": "Typed actions on a connection: list, plan (dry run), run, approve, "
                                               "reject, and the connection's action policy."},
            {"name": "Audit log", "description": "The workspace's audit trail (every change, sign-in and query), its "
                                                 "hash chain's verification, and the SOC 2 report. Admin keys only."},
            {"name": "Account", "description": "The workspace's usage, and the plan with the operator's limits."},
            {"name": "Users", "description": "Members, roles and invitations."},
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
                "pipelineApiKey": {"type": "apiKey", "in": "header", "name": pipeline.API_KEY_HEADER,
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


from . import action_errors  # noqa: E402  (the actions' error codes)

ERROR_CODES.update(action_errors.ERROR_CODES)
ERROR_EXAMPLES.update(action_errors.ERROR_EXAMPLES)
