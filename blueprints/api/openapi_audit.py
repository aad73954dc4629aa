"""The audit-log operations of the OpenAPI document (``/api/v1/audit-logs*``).

Their schemas are generated from the pydantic models of ``blueprints/api/audit.py`` (the shapes
the views serialize through), their parameters from the models of the query strings, and their
errors are written the way ``openapi.py`` writes every other operation's. ``build_openapi()``
merges ``paths(enums)`` and ``schemas(enums)`` into the document.
"""
from __future__ import annotations

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from audit.actions import ACTIONS
from audit.service import DEFAULT_LIMIT, MAX_LIMIT

from .audit import SCOPE, AuditLogEntry, AuditLogPage, AuditLogQuery, ChainVerification, Soc2Query, Soc2Report
from .openapi import JSON, _json_content, _operation, _ref

TAG = "Audit log"
TAG_DESCRIPTION = ("The workspace's audit trail (every change, sign-in and query), its hash chain's verification, "
                   "and the SOC 2 report. Admin keys only.")
PDF = "application/pdf"
ENTRY_EXAMPLE = {
    "id": "aud_1042", "seq": 311, "time": "2026-01-14T09:12:44.120000Z",
    "actor": {"type": "api_key", "id": "key_m2p1a8bd3kq9x0v7", "name": "Support agent"},
    "action": "query.executed", "target": {"type": "query", "id": "qry_xg6pscsktc2ercw5"}, "outcome": "success",
    "client_address": "203.0.113.7",
    "details": {"via": "api", "query": "refund policy", "filters": {"sources": ["zendesk"]}, "limit": 10,
                "result_count": 4},
    "prev_hash": "9f2c41d0e4b5a6c7d8e9f00112233445566778899aabbccddeeff00112233445",
    "hash": "3b7e0a9c1d2f4e5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c",
}
FILTER_ERRORS = [
    ("invalid_parameter", "`action` names no documented action (nor a prefix of one, `connection.*`), `outcome` is "
                          "not `success` or `failure`, or `start` / `end` is not an ISO 8601 date or date-time; "
                          "`details.parameter` names it."),
    "invalid_limit", "invalid_cursor",
    ("invalid_date_range", "`start` is later than `end`."),
]
AUDIT_SCOPE = (" The audit trail is the workspace's: only a key with the `admin` scope reads it (console members "
               "who are not admins see their own actions on the Audit log page).")


def _plain(schema: dict) -> dict:
    """A property schema as a parameter's: no title, and not nullable (absent is the null)."""
    schema = {k: v for k, v in schema.items() if k not in ("title", "description", "default")}
    if "anyOf" in schema:
        (schema_,) = [s for s in schema.pop("anyOf") if s.get("type") != "null"]
        schema = {**schema_, **schema}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict]:
    generated = model.model_json_schema()
    required = set(generated.get("required", []))
    parameters = []
    for name, prop in generated["properties"].items():
        parameter = {"name": name, "in": "query", "required": name in required,
                     "description": prop["description"], "schema": _plain(prop)}
        if prop.get("default") is not None:
            parameter["schema"]["default"] = prop["default"]
        parameters.append(parameter)
    return parameters


def schemas(enums: dict) -> dict:
    """The components the audit operations refer to, generated from the pydantic models."""
    _, generated = models_json_schema([(m, "serialization") for m in (AuditLogPage, AuditLogEntry, ChainVerification,
                                                                      Soc2Report)],
                                      ref_template="#/components/schemas/{model}")
    found = generated["$defs"]
    found["AuditLogEntry"]["properties"]["action"]["enum"] = list(ACTIONS)
    return dict(sorted(found.items()))


def paths(enums: dict) -> dict:
    entry_id = {"name": "entry_id", "in": "path", "required": True,
                "description": "An entry's id (`aud_...`). Another workspace's entry is answered exactly like one that "
                               "does not exist (`404 not_found`).",
                "schema": {"type": "string", "examples": ["aud_1042"]}}
    return {
        "/api/v1/audit-logs": {"get": _operation(
            operation_id="listAuditLogs", summary="List audit log entries", tag=TAG, scope=SCOPE,
            behaviour=f"""
The workspace's audit entries, newest first (by their place in the workspace's hash chain), {DEFAULT_LIMIT} per page
by default and at most {MAX_LIMIT:,}; pass `next_cursor` back as `cursor` for the next page. Every change, sign-in and
query is an entry: `action` is one of the documented actions (the README's "Audit log" table), `actor` the member
(by e-mail and `usr_` id) or API key (by name and `key_` id) or the system, `details` what the action recorded
(filters and counts; never a secret, never a query's results). Filters combine: `action` (exact, or a prefix such as
`connection.*`), `actor` (id or name), `target` (id), `outcome`, `start` and `end` (ISO 8601; a bare `end` date means
the whole day). `prev_hash` and `hash` let anyone recompute the chain (see `GET /api/v1/audit-logs/verify`).
{AUDIT_SCOPE}""",
            parameters=_query_parameters(AuditLogQuery),
            responses={200: {"description": "A page of entries.", "content": _json_content(
                _ref("AuditLogPage"), example={"entries": [ENTRY_EXAMPLE], "next_cursor": "c2VxOjMxMQ"})}},
            errors={422: FILTER_ERRORS})},
        "/api/v1/audit-logs/verify": {"get": _operation(
            operation_id="verifyAuditLogs", summary="Verify the audit chain", tag=TAG, scope=SCOPE,
            behaviour=f"""
Recompute the workspace's hash chain from its anchor (the last entry retention removed, if any) to its head: every
entry's SHA-256 over its canonical form, that each `prev_hash` is the hash of the entry before it, that no place is
missing and that the newest entries are all there. `intact: false` names the first bad entry and why (altered,
removed, inserted outside the application). `flask audit verify` does the same for every workspace.{AUDIT_SCOPE}""",
            responses={200: {"description": "The verification's result.", "content": _json_content(
                _ref("ChainVerification"), example={"intact": True, "entries_checked": 311, "anchor_seq": 0,
                                                    "head_seq": 311, "first_bad_entry_id": None,
                                                    "first_bad_seq": None, "reason": None,
                                                    "verified_at": "2026-02-01T08:00:00.000000Z"})}},
            errors={})},
        "/api/v1/audit-logs/soc2": {"get": _operation(
            operation_id="exportSoc2Report", summary="Export the SOC 2 report", tag=TAG, scope=SCOPE,
            behaviour=f"""
The SOC 2 evidence of the workspace from `start_date` to `end_date` (both days included), computed from its stored
audit entries: access (members and roles, membership and role changes, API keys with scopes, creator, last use and
revocation), authentication (sign-ins, failed sign-ins for its members' accounts, throttling lock-outs), change
management (connections added, removed and reconnected, webhook secret and encryption key rotations, cadence and
schedule changes), data access (queries per actor, documents deleted, exports), encryption at rest (the Fernet keys
in use by fingerprint, the secrets under each, their age, the last rotation) and the audit chain's verification.
JSON by default; a PDF to hand to an auditor with `Accept: application/pdf` or `format=pdf`. Each export is itself an
audit entry (`audit.exported`).{AUDIT_SCOPE}""",
            parameters=_query_parameters(Soc2Query),
            responses={200: {"description": "The report.", "content": {
                JSON: {"schema": _ref("Soc2Report")},
                PDF: {"schema": {"type": "string", "format": "binary"}}}}},
            errors={422: [("missing_parameter", "`start_date` or `end_date` is absent or blank; `details.parameter` "
                                                "names it."),
                          ("invalid_parameter", "`start_date` or `end_date` is not an ISO 8601 date, or `format` is "
                                                "not `json` or `pdf`; `details.parameter` names it."),
                          ("invalid_date_range", "`start_date` is later than `end_date`.")]})},
        "/api/v1/audit-logs/{entry_id}": {"get": _operation(
            operation_id="getAuditLog", summary="Get an audit log entry", tag=TAG, scope=SCOPE,
            behaviour=f"One entry of the workspace's audit trail.{AUDIT_SCOPE}",
            parameters=[entry_id],
            responses={200: {"description": "The entry.", "content": _json_content(_ref("AuditLogEntry"),
                                                                                    example=ENTRY_EXAMPLE)}},
            errors={404: ["not_found"]})},
    }
