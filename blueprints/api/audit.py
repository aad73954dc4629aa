"""/api/v1/audit-logs: the workspace's audit trail, its chain verification and the SOC 2 report.

Every operation needs the ``admin`` scope: the trail says who did what across the workspace.
(Console members who are not admins see their own actions on the Audit log page.) The endpoints
are declared once (``endpoints.endpoint``): the models, prose and error codes below are what the
OpenAPI document is generated from. The query parameters are parsed by ``audit.service`` (its
codes: ``invalid_limit``, ``invalid_cursor``, ``invalid_date_range``), so their models document them
with ``checked_later``.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import current_app, jsonify, request
from pydantic import BaseModel, Field

from audit import chain, pdf, service, soc2
from audit.actions import ACTIONS, ACTOR_TYPES, OUTCOMES
from core.errors import ValidationError

from . import bp
from .auth import current_actor
from .endpoints import Ok, QueryModel, ResponseModel, checked_later, endpoint

SCOPE = "admin"
TAG = "Audit log"
PDF = "application/pdf"
FORMATS = ("json", "pdf")


# -- the log ------------------------------------------------------------------------------------------

def _text(description: str, example: str | None = None):
    """An optional text parameter the domain reads (a NUL is refused before it, blueprints/inputs.py)."""
    return Field(description=description, examples=[example] if example else None)


class AuditLogQuery(QueryModel):
    """The query parameters of GET /api/v1/audit-logs (validated by ``audit.service.parse_filters``)."""

    limit: Annotated[Any, checked_later({"type": "integer", "minimum": 1, "default": service.DEFAULT_LIMIT}), Field(
        description=f"Entries per page, 1 to {service.MAX_LIMIT} (more is read as {service.MAX_LIMIT}).")] = \
        service.DEFAULT_LIMIT
    cursor: Annotated[str | None, _text("`next_cursor` of the previous page.")] = None
    action: Annotated[str | None, _text("One action (`query.executed`) or every action under a prefix "
                                        "(`connection.*`).", "connection.*")] = None
    actor: Annotated[str | None, _text("An actor's id (`usr_...`, `key_...`) or name (a member's e-mail, a key's "
                                       "name).")] = None
    target: Annotated[str | None, _text("A target's id (a connection, document, member, key ...).")] = None
    outcome: Annotated[Any, checked_later({"type": "string", "enum": list(OUTCOMES)}), Field(
        description="`success` or `failure`.")] = None
    start: Annotated[Any, checked_later({"type": "string", "examples": ["2026-01-01T00:00:00Z"]}), Field(
        description="Entries at or after this ISO 8601 date or date-time (UTC unless it has an offset).")] = None
    end: Annotated[Any, checked_later({"type": "string", "examples": ["2026-01-31T23:59:59Z"]}), Field(
        description="Entries at or before this ISO 8601 date or date-time (a bare date means the whole day).")] = None


class AuditActor(ResponseModel):
    type: Literal[ACTOR_TYPES] = Field(description="`user` (a member), `api_key`, `system` (scheduler, workers) "
                                                   "or `anonymous` (a refused sign-in).")
    id: str | None = Field(description="The member's `usr_` or the key's `key_` id; null for the system.")
    name: str | None = Field(description="The member's e-mail or the key's name.")


class AuditTarget(ResponseModel):
    type: str | None = Field(description="What was acted on: `connection`, `document`, `user`, `api_key`, ...")
    id: str | None = Field(description="Its id.")


class AuditLogEntry(ResponseModel):
    """One audit entry. Its details never hold a secret (they are scrubbed when recorded)."""

    id: str = Field(description="The entry's id (`aud_` and a number).", examples=["aud_1042"])
    seq: int | None = Field(description="Its place in the workspace's hash chain (1, 2, ...).")
    time: str = Field(description="When it was recorded (RFC 3339, UTC, `Z`).")
    actor: AuditActor
    action: str = Field(description="What happened: one of the documented actions.",
                        json_schema_extra={"enum": list(ACTIONS)})
    target: AuditTarget | None
    outcome: Literal[OUTCOMES]
    client_address: str | None = Field(description="The client's IP address, when the action came from a request.")
    details: dict[str, Any] = Field(description="What the action recorded (filters, counts, changed fields).")
    prev_hash: str | None = Field(description="The hash of the entry before it in the chain (64 hex digits; "
                                              "64 zeros for the first).")
    hash: str | None = Field(description="SHA-256 of this entry's canonical form (see the README, \"Audit log\").")


class AuditLogPage(ResponseModel):
    entries: list[AuditLogEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class FullWalk(ResponseModel):
    """The latest full verification of the chain: every entry from the anchor, every checkpoint."""

    entry_id: str = Field(description="The audit entry that records it (`audit.verified` or `audit.chain_broken`).")
    trigger: Literal["schedule", "request", "cli"] | None = Field(
        description="`schedule` (every `AUDIT_FULL_VERIFY_DAYS`), `request` (an admin's, `POST "
                    "/api/v1/audit-logs/verify/full`) or `cli` (`flask audit verify --full`).")
    started_at: str | None
    finished_at: str
    intact: bool
    entries_checked: int
    verified_from_seq: int = Field(description="The place it started after: the anchor.")
    head_seq: int = Field(description="The newest place it covered.")
    first_bad_seq: int | None = Field(description="Where the chain breaks (null when intact).")
    first_bad_entry_id: int | None = Field(description="The row number of the first bad entry (its id without "
                                                       "`aud_`).")
    reason: str | None = Field(description="Why it breaks there.")


class FullWalkRequest(ResponseModel):
    """A full verification an admin asked for, not run yet."""

    entry_id: str = Field(description="The `audit.verification_requested` entry.")
    requested_at: str
    requested_by: str | None = Field(description="The member's e-mail or the key's name.")
    runs_after: str = Field(description="When it may start: at once, or `AUDIT_FULL_VERIFY_MIN_INTERVAL_MINUTES` "
                                        "after the previous full verification. The scheduler's leader looks every "
                                        "minute.")


class FullVerificationStatus(ResponseModel):
    """The whole chain's state as last walked, and the next walk."""

    last: FullWalk | None = Field(description="The latest full verification (null: none yet).")
    requested: FullWalkRequest | None = Field(description="A requested full verification still waiting (null: none).")
    cadence_days: float | None = Field(description="`AUDIT_FULL_VERIFY_DAYS` (null: no scheduled full verification).")
    next_scheduled_at: str | None = Field(description="When the next scheduled one is due (null: none scheduled).")


class ChainVerification(ResponseModel):
    """Whether the workspace's hash chain is intact, and where it first breaks if not."""

    intact: bool
    entries_checked: int = Field(description="Entries whose hashes were recomputed.")
    anchor_seq: int = Field(description="The place of the last entry retention removed (0: none removed).")
    head_seq: int = Field(description="The place of the newest entry when verification started.")
    first_bad_entry_id: int | None = Field(description="The row number of the first bad entry (its id without "
                                                       "`aud_`); null when intact or when the newest were removed.")
    first_bad_seq: int | None = Field(description="The chain place where it breaks.")
    reason: str | None = Field(description="Why it breaks there.")
    verified_at: str
    mode: Literal["incremental", "full"] = Field(description="`incremental`: from the latest signed checkpoint "
                                                             "(entries before it are not recomputed here: "
                                                             "`full_verification` reports the latest full walk).")
    verified_from_seq: int = Field(description="The place verification started after: the latest checkpoint, or "
                                               "the anchor when there is none.")
    checkpoint_seq: int | None = Field(description="The latest signed checkpoint verification relied on (null: none).")
    full_verification: FullVerificationStatus = Field(
        description="The latest full verification of the whole chain (which `incremental` does not recompute before "
                    "the checkpoint), and the next one.")


# -- the SOC 2 report ---------------------------------------------------------------------------------

class Soc2Query(QueryModel):
    """The period is parsed by ``audit.service`` (``invalid_date_range`` when it is backwards)."""

    start_date: Annotated[Any, checked_later({"type": "string", "examples": ["2026-01-01"]}), Field(
        description="The period's first day (ISO 8601 date or date-time).")]
    end_date: Annotated[Any, checked_later({"type": "string", "examples": ["2026-01-31"]}), Field(
        description="The period's last day, included (ISO 8601 date or date-time).")]
    format: Annotated[Any, checked_later({"type": "string", "enum": list(FORMATS)}), Field(
        description="`pdf` for the PDF (as `Accept: application/pdf` does); JSON otherwise.")] = None


class Soc2Brief(ResponseModel):
    id: str
    time: str
    action: str
    actor: str | None
    target_id: str | None
    details: dict[str, Any]


class Soc2Member(ResponseModel):
    user_id: str
    name: str
    email: str
    role: str
    joined_at: str | None
    last_sign_in_at: str | None


class Soc2Person(ResponseModel):
    id: str
    name: str


class Soc2ApiKey(ResponseModel):
    id: str
    name: str
    scopes: list[str]
    kind: str
    created_by: Soc2Person | None
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class Soc2Access(ResponseModel):
    members: list[Soc2Member] = Field(description="The workspace's members now, with their roles.")
    member_count: int
    admin_count: int
    members_added: int
    members_removed: int
    role_changes: int
    membership_changes: list[Soc2Brief]
    api_keys: list[Soc2ApiKey] = Field(description="Every key of the workspace, revoked ones too.")
    api_keys_active: int
    api_keys_created: int
    api_keys_revoked: int


class Soc2FailedAccount(ResponseModel):
    account: str | None
    failures: int


class Soc2Authentication(ResponseModel):
    sign_ins: int
    sign_outs: int
    failed_sign_ins: int = Field(description="Wrong passwords for the accounts of the workspace's members.")
    lockouts: int = Field(description="Times throttling locked one of those accounts.")
    refused_while_locked: int
    failures_by_account: list[Soc2FailedAccount]


class Soc2ChangeManagement(ResponseModel):
    connections_added: int
    connections_removed: int
    connections_reconnected: int
    connection_settings_changed: int
    webhook_secret_rotations: int
    encryption_key_rotations: int = Field(description="`flask keys rotate` runs of the installation.")
    cadence_changes: int
    schedule_changes: int
    changes: list[Soc2Brief]


class Soc2QueriesByActor(ResponseModel):
    actor_type: str
    actor_id: str | None
    actor: str | None
    queries: int


class Soc2DataAccess(ResponseModel):
    queries: int
    queries_by_actor: list[Soc2QueriesByActor]
    access_overrides: int
    documents_deleted: int
    documents_deleted_one_by_one: int
    documents_deleted_by_pipeline_sync: int
    documents_deleted_with_vector_stores: int
    exports: int
    exports_by_format: dict[str, int]


class Soc2Key(ResponseModel):
    fingerprint: str = Field(description="First 16 hex digits of SHA-256 over the key: names it, reveals nothing.")
    primary: bool = Field(description="The key that encrypts; the others only decrypt.")
    secrets: int = Field(description="This workspace's stored secrets encrypted with it.")
    oldest_secret_encrypted_at: str | None
    became_primary_at: str | None = Field(description="When an audited rotation made it the primary.")
    in_use_since: str | None = Field(description="The earlier of the two above.")
    age_days: int | None


class Soc2Encryption(ResponseModel):
    algorithm: str
    keys_in_use: int
    keys: list[Soc2Key]
    secrets_under_older_keys: int
    last_rotation_at: str | None
    rotations_in_period: int


class Soc2Workspace(ResponseModel):
    id: str
    name: str


class Soc2Period(ResponseModel):
    start: str
    end: str


class Soc2Report(ResponseModel):
    """The SOC 2 evidence of a workspace over a period, computed from its stored audit trail."""

    workspace: Soc2Workspace
    period: Soc2Period
    generated_at: str
    access: Soc2Access
    authentication: Soc2Authentication
    change_management: Soc2ChangeManagement
    data_access: Soc2DataAccess
    encryption_at_rest: Soc2Encryption
    audit_chain: ChainVerification


# -- the views ----------------------------------------------------------------------------------------

ENTRY_ID = {
    "name": "entry_id", "in": "path", "required": True,
    "description": "An entry's id (`aud_...`). Another workspace's entry is answered exactly like one that does not "
                   "exist (`404 not_found`).",
    "schema": {"type": "string", "examples": ["aud_1042"]},
}
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
VERIFICATION_EXAMPLE = {"intact": True, "entries_checked": 12, "anchor_seq": 0, "head_seq": 311,
                        "first_bad_entry_id": None, "first_bad_seq": None, "reason": None,
                        "verified_at": "2026-02-01T08:00:00.000000Z", "mode": "incremental",
                        "verified_from_seq": 299, "checkpoint_seq": 300}
FULL_STATUS_EXAMPLE = {
    "last": {"entry_id": "aud_1001", "trigger": "schedule", "started_at": "2026-01-30T03:00:00.000000Z",
             "finished_at": "2026-01-30T03:03:10.000000Z", "intact": True, "entries_checked": 290,
             "verified_from_seq": 0, "head_seq": 290, "first_bad_seq": None, "first_bad_entry_id": None,
             "reason": None},
    "requested": None, "cadence_days": 7.0, "next_scheduled_at": "2026-02-06T03:03:10.000000Z"}
VERIFICATION_EXAMPLE["full_verification"] = FULL_STATUS_EXAMPLE
AUDIT_SCOPE = (" The audit trail is the workspace's: only a key with the `admin` scope reads it (console members "
               "who are not admins see their own actions on the Audit log page).")
FILTER_ERRORS = [
    ("invalid_parameter", "`action` names no documented action (nor a prefix of one, `connection.*`), `outcome` is "
                          "not `success` or `failure`, or `start` / `end` is not an ISO 8601 date or date-time; "
                          "`details.parameter` names it."),
    "invalid_limit", "invalid_cursor",
    ("invalid_date_range", "`start` is later than `end`."),
]


def _answer(model: type[BaseModel], value: dict):
    """Serialize through the declared model: an undeclared field fails here, not at a client."""
    return jsonify(model.model_validate(value).model_dump(mode="json"))


@endpoint(bp, "GET", "/audit-logs", operation_id="listAuditLogs", summary="List audit log entries", tag=TAG,
          scope=SCOPE, query=AuditLogQuery,
          behaviour=f"""
The workspace's audit entries, newest first (by their place in the workspace's hash chain), {service.DEFAULT_LIMIT}
per page by default and at most {service.MAX_LIMIT:,}; pass `next_cursor` back as `cursor` for the next page. Every
change, sign-in and query is an entry: `action` is one of the documented actions (the README's "Audit log" table),
`actor` the member (by e-mail and `usr_` id) or API key (by name and `key_` id) or the system, `details` what the
action recorded (filters and counts; never a secret, never a query's results). Filters combine: `action` (exact, or a
prefix such as `connection.*`), `actor` (id or name), `target` (id), `outcome`, `start` and `end` (ISO 8601; a bare
`end` date means the whole day). `prev_hash` and `hash` let anyone recompute the chain (see
`GET /api/v1/audit-logs/verify`).{AUDIT_SCOPE}""",
          responses={200: Ok("A page of entries.", AuditLogPage,
                             example={"entries": [ENTRY_EXAMPLE], "next_cursor": "c2VxOjMxMQ"})},
          errors={422: FILTER_ERRORS})
def list_audit_logs(query: AuditLogQuery):
    """A page of the workspace's audit entries, newest first, filtered."""
    filters = service.parse_filters(query.model_dump())
    page = service.list_entries(current_actor(), filters, limit=query.limit, cursor=query.cursor)
    return _answer(AuditLogPage, page)


FULL_WALK_COST = ("A full verification recomputes every entry from the anchor and checks every checkpoint: about 190 "
                  "s for a million entries on SQLite (`bench/audit_verify.py`, a loaded 2-core machine), so it never "
                  "runs inside a request.")


@endpoint(bp, "GET", "/audit-logs/verify", operation_id="verifyAuditLogs", summary="Verify the audit chain",
          tag=TAG, scope=SCOPE,
          behaviour=f"""
Recompute the workspace's hash chain from its latest signed checkpoint (the hourly housekeeping verifies the chain
and signs its head; without one, from the anchor: the last entry retention removed, if any) to its head: every
entry's SHA-256 over its canonical form, that each `prev_hash` is the hash of the entry before it, that no place is
missing and that the newest entries are all there; the checkpoint's signature and its own entry are checked too.
`intact: false` names the first bad entry and why (altered, removed, inserted outside the application). Entries
before the latest checkpoint are not recomputed here (this answer takes as long as the entries written since the
last checkpoint, an hour's at most): `full_verification` reports the whole chain's state as of the latest full
verification (when it ran, whether intact, where it broke), which the scheduler runs every `AUDIT_FULL_VERIFY_DAYS`
(7) and on request (`POST /api/v1/audit-logs/verify/full`). {FULL_WALK_COST}{AUDIT_SCOPE}""",
          responses={200: Ok("The verification's result.", ChainVerification, example=VERIFICATION_EXAMPLE)})
def verify_audit_logs():
    """Recompute the workspace's hash chain from its latest checkpoint; report the latest full walk."""
    workspace_id = current_actor().workspace_id
    return _answer(ChainVerification, {**chain.verify(workspace_id).to_dict(),
                                       "full_verification": chain.full_walk_status(workspace_id)})


@endpoint(bp, "POST", "/audit-logs/verify/full", operation_id="requestFullAuditVerification",
          summary="Request a full verification of the audit chain", tag=TAG, scope=SCOPE,
          behaviour=f"""
Ask for a full verification of the workspace's hash chain: every entry from the anchor, and every signed checkpoint
must match its entry (this also catches an edit before the latest checkpoint, and a re-hashed chain). {FULL_WALK_COST}
The request is recorded (`audit.verification_requested`) and answered `202` at once; the scheduler's leader runs it
within a minute, one full verification at a time for the installation, and at the earliest
`AUDIT_FULL_VERIFY_MIN_INTERVAL_MINUTES` (60) after the chain's previous one, so repeated requests cannot keep a
process busy. Asking again while one waits answers the waiting request (nothing new is recorded). The outcome is an
audit entry (`audit.verified` or `audit.chain_broken` with where it broke) and appears as `full_verification.last` of
`GET /api/v1/audit-logs/verify`.{AUDIT_SCOPE}""",
          responses={202: Ok("The request, waiting (`requested`), with the latest full verification.",
                             FullVerificationStatus,
                             example={**FULL_STATUS_EXAMPLE, "requested": {
                                 "entry_id": "aud_1042", "requested_at": "2026-02-01T08:00:00.000000Z",
                                 "requested_by": "Compliance", "runs_after": "2026-02-01T08:00:00.000000Z"}})})
def request_full_audit_verification():
    """Queue a full walk of the workspace's hash chain."""
    response = _answer(FullVerificationStatus, chain.request_full_walk(current_actor()))
    response.status_code = 202
    response.headers["Location"] = "/api/v1/audit-logs/verify"
    return response


@endpoint(bp, "GET", "/audit-logs/<id(prefix='aud'):entry_id>", operation_id="getAuditLog",
          summary="Get an audit log entry", tag=TAG, scope=SCOPE, path_parameters=[ENTRY_ID],
          behaviour=f"One entry of the workspace's audit trail.{AUDIT_SCOPE}",
          responses={200: Ok("The entry.", AuditLogEntry, example=ENTRY_EXAMPLE)},
          errors={404: ["not_found"]})
def get_audit_log(entry_id):
    """One entry."""
    return _answer(AuditLogEntry, service.get_entry(current_actor(), entry_id))


@endpoint(bp, "GET", "/audit-logs/soc2", operation_id="exportSoc2Report", summary="Export the SOC 2 report",
          tag=TAG, scope=SCOPE, query=Soc2Query,
          behaviour=f"""
The SOC 2 evidence of the workspace from `start_date` to `end_date` (both days included), computed from its stored
audit entries: access (members and roles, membership and role changes, API keys with scopes, creator, last use and
revocation), authentication (sign-ins, failed sign-ins for its members' accounts, throttling lock-outs), change
management (connections added, removed and reconnected, webhook secret and encryption key rotations, cadence and
schedule changes), data access (queries per actor, documents deleted, exports), encryption at rest (the Fernet keys
in use by fingerprint, the secrets under each, their age, the last rotation) and the audit chain's verification.
JSON by default; a PDF to hand to an auditor with `Accept: application/pdf` or `format=pdf`. Each export is itself an
audit entry (`audit.exported`).{AUDIT_SCOPE}""",
          responses={200: Ok("The report.", Soc2Report, also={PDF: {"schema": {"type": "string", "format": "binary"}}})},
          errors={422: [("missing_parameter", "`start_date` or `end_date` is absent or blank; `details.parameter` "
                                              "names it."),
                        ("invalid_parameter", "`start_date` or `end_date` is not an ISO 8601 date, or `format` is "
                                              "not `json` or `pdf`; `details.parameter` names it."),
                        ("invalid_date_range", "`start_date` is later than `end_date`.")]})
def soc2_report(query: Soc2Query):
    """The SOC 2 report over ``start_date`` to ``end_date``, as JSON or PDF."""
    actor = current_actor()
    start, end = _period(query)
    if query.format not in (None, *FORMATS):
        raise ValidationError("format is json or pdf.", code="invalid_parameter", details={"parameter": "format"})
    as_pdf = query.format == "pdf" or (
        not query.format and request.accept_mimetypes.best_match(["application/json", PDF]) == PDF)
    report = Soc2Report.model_validate(soc2.build(actor, start, end)).model_dump(mode="json")
    service.record_export(actor, "soc2_pdf" if as_pdf else "soc2_json", start=report["period"]["start"],
                          end=report["period"]["end"])
    if not as_pdf:
        return jsonify(report)
    response = current_app.response_class(pdf.render(report), mimetype=PDF)
    name = f"soc2-{report['workspace']['id']}-{start.date().isoformat()}-{end.date().isoformat()}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _period(query: Soc2Query):
    for name in ("start_date", "end_date"):
        if not (getattr(query, name) or "").strip():
            raise ValidationError(f"{name} is required (an ISO 8601 date, e.g. 2026-01-31).",
                                  code="missing_parameter", details={"parameter": name})
    start = service.parse_instant(query.start_date, "start_date")
    end = service.parse_instant(query.end_date, "end_date", end=True)
    service.check_range(start, end, names=("start_date", "end_date"))
    return start, end
