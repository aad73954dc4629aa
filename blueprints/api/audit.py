"""/api/v1/audit-logs: the workspace's audit trail, its chain verification and the SOC 2 report.

Every operation needs the ``admin`` scope: the trail says who did what across the workspace.
(Console members who are not admins see their own actions on the Audit log page.) Request and
response shapes are the pydantic models below; ``openapi_audit.py`` documents them from these.
"""
from __future__ import annotations

from typing import Any, Literal

from flask import current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field

from audit import chain, pdf, service, soc2
from audit.actions import ACTOR_TYPES, OUTCOMES
from core.errors import ValidationError

from . import bp
from .auth import current_actor, require_scope

SCOPE = "admin"
PDF = "application/pdf"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- the log ------------------------------------------------------------------------------------------

class AuditLogQuery(_Closed):
    """The query parameters of GET /api/v1/audit-logs (validated by ``audit.service.parse_filters``)."""

    limit: int = Field(service.DEFAULT_LIMIT, ge=1, description=f"Entries per page, 1 to {service.MAX_LIMIT} "
                       f"(more is read as {service.MAX_LIMIT}).")
    cursor: str | None = Field(None, description="`next_cursor` of the previous page.")
    action: str | None = Field(None, description="One action (`query.executed`) or every action under a prefix "
                                                 "(`connection.*`).", examples=["connection.*"])
    actor: str | None = Field(None, description="An actor's id (`usr_...`, `key_...`) or name (a member's e-mail, "
                                                "a key's name).")
    target: str | None = Field(None, description="A target's id (a connection, document, member, key ...).")
    outcome: Literal["success", "failure"] | None = Field(None, description="`success` or `failure`.")
    start: str | None = Field(None, description="Entries at or after this ISO 8601 date or date-time (UTC unless "
                                                "it has an offset).", examples=["2026-01-01T00:00:00Z"])
    end: str | None = Field(None, description="Entries at or before this ISO 8601 date or date-time (a bare date "
                                              "means the whole day).", examples=["2026-01-31T23:59:59Z"])


class AuditActor(_Closed):
    type: Literal[ACTOR_TYPES] = Field(description="`user` (a member), `api_key`, `system` (scheduler, workers) "
                                                   "or `anonymous` (a refused sign-in).")
    id: str | None = Field(description="The member's `usr_` or the key's `key_` id; null for the system.")
    name: str | None = Field(description="The member's e-mail or the key's name.")


class AuditTarget(_Closed):
    type: str | None = Field(description="What was acted on: `connection`, `document`, `user`, `api_key`, ...")
    id: str | None = Field(description="Its id.")


class AuditLogEntry(_Closed):
    """One audit entry. Its details never hold a secret (they are scrubbed when recorded)."""

    id: str = Field(description="The entry's id (`aud_` and a number).", examples=["aud_1042"])
    seq: int | None = Field(description="Its place in the workspace's hash chain (1, 2, ...).")
    time: str = Field(description="When it was recorded (RFC 3339, UTC, `Z`).")
    actor: AuditActor
    action: str = Field(description="What happened: one of the documented actions.")
    target: AuditTarget | None
    outcome: Literal[OUTCOMES]
    client_address: str | None = Field(description="The client's IP address, when the action came from a request.")
    details: dict[str, Any] = Field(description="What the action recorded (filters, counts, changed fields).")
    prev_hash: str | None = Field(description="The hash of the entry before it in the chain (64 hex digits; "
                                              "64 zeros for the first).")
    hash: str | None = Field(description="SHA-256 of this entry's canonical form (see the README, \"Audit log\").")


class AuditLogPage(_Closed):
    entries: list[AuditLogEntry] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ChainVerification(_Closed):
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


# -- the SOC 2 report ---------------------------------------------------------------------------------

class Soc2Query(_Closed):
    start_date: str = Field(description="The period's first day (ISO 8601 date or date-time).",
                            examples=["2026-01-01"])
    end_date: str = Field(description="The period's last day, included (ISO 8601 date or date-time).",
                          examples=["2026-01-31"])
    format: Literal["json", "pdf"] | None = Field(None, description="`pdf` for the PDF (as `Accept: "
                                                                     "application/pdf` does); JSON otherwise.")


class Soc2Brief(_Closed):
    id: str
    time: str
    action: str
    actor: str | None
    target_id: str | None
    details: dict[str, Any]


class Soc2Member(_Closed):
    user_id: str
    name: str
    email: str
    role: str
    joined_at: str | None
    last_sign_in_at: str | None


class Soc2Person(_Closed):
    id: str
    name: str


class Soc2ApiKey(_Closed):
    id: str
    name: str
    scopes: list[str]
    kind: str
    created_by: Soc2Person | None
    created_at: str | None
    last_used_at: str | None
    revoked_at: str | None


class Soc2Access(_Closed):
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


class Soc2FailedAccount(_Closed):
    account: str | None
    failures: int


class Soc2Authentication(_Closed):
    sign_ins: int
    sign_outs: int
    failed_sign_ins: int = Field(description="Wrong passwords for the accounts of the workspace's members.")
    lockouts: int = Field(description="Times throttling locked one of those accounts.")
    refused_while_locked: int
    failures_by_account: list[Soc2FailedAccount]


class Soc2ChangeManagement(_Closed):
    connections_added: int
    connections_removed: int
    connections_reconnected: int
    connection_settings_changed: int
    webhook_secret_rotations: int
    encryption_key_rotations: int = Field(description="`flask keys rotate` runs of the installation.")
    cadence_changes: int
    schedule_changes: int
    changes: list[Soc2Brief]


class Soc2QueriesByActor(_Closed):
    actor_type: str
    actor_id: str | None
    actor: str | None
    queries: int


class Soc2DataAccess(_Closed):
    queries: int
    queries_by_actor: list[Soc2QueriesByActor]
    access_overrides: int
    documents_deleted: int
    documents_deleted_one_by_one: int
    documents_deleted_by_pipeline_sync: int
    documents_deleted_with_vector_stores: int
    exports: int
    exports_by_format: dict[str, int]


class Soc2Key(_Closed):
    fingerprint: str = Field(description="First 16 hex digits of SHA-256 over the key: names it, reveals nothing.")
    primary: bool = Field(description="The key that encrypts; the others only decrypt.")
    secrets: int = Field(description="This workspace's stored secrets encrypted with it.")
    oldest_secret_encrypted_at: str | None
    became_primary_at: str | None = Field(description="When an audited rotation made it the primary.")
    in_use_since: str | None = Field(description="The earlier of the two above.")
    age_days: int | None


class Soc2Encryption(_Closed):
    algorithm: str
    keys_in_use: int
    keys: list[Soc2Key]
    secrets_under_older_keys: int
    last_rotation_at: str | None
    rotations_in_period: int


class Soc2Workspace(_Closed):
    id: str
    name: str


class Soc2Period(_Closed):
    start: str
    end: str


class Soc2Report(_Closed):
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

def _answer(model: type[BaseModel], value: dict):
    """Serialize through the declared model: an undeclared field fails here, not at a client."""
    return jsonify(model.model_validate(value).model_dump(mode="json"))


@bp.get("/audit-logs")
@require_scope(SCOPE)
def list_audit_logs():
    """A page of the workspace's audit entries, newest first, filtered."""
    filters = service.parse_filters(request.args)
    page = service.list_entries(current_actor(), filters, limit=request.args.get("limit"),
                                cursor=request.args.get("cursor") or None)
    return _answer(AuditLogPage, page)


@bp.get("/audit-logs/verify")
@require_scope(SCOPE)
def verify_audit_logs():
    """Recompute the workspace's hash chain."""
    return _answer(ChainVerification, chain.verify(current_actor().workspace_id).to_dict())


@bp.get("/audit-logs/<id(prefix='aud'):entry_id>")
@require_scope(SCOPE)
def get_audit_log(entry_id):
    """One entry."""
    return _answer(AuditLogEntry, service.get_entry(current_actor(), entry_id))


@bp.get("/audit-logs/soc2")
@require_scope(SCOPE)
def soc2_report():
    """The SOC 2 report over ``start_date`` to ``end_date``, as JSON or PDF."""
    actor = current_actor()
    start, end = _period(request.args)
    wanted = request.args.get("format")
    if wanted not in (None, "", "json", "pdf"):
        raise ValidationError("format is json or pdf.", code="invalid_parameter", details={"parameter": "format"})
    as_pdf = wanted == "pdf" or (not wanted and request.accept_mimetypes.best_match(["application/json", PDF]) == PDF)
    report = Soc2Report.model_validate(soc2.build(actor, start, end)).model_dump(mode="json")
    service.record_export(actor, "soc2_pdf" if as_pdf else "soc2_json", start=report["period"]["start"],
                          end=report["period"]["end"])
    if not as_pdf:
        return jsonify(report)
    response = current_app.response_class(pdf.render(report), mimetype=PDF)
    name = f"soc2-{report['workspace']['id']}-{start.date().isoformat()}-{end.date().isoformat()}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _period(args):
    for name in ("start_date", "end_date"):
        if not (args.get(name) or "").strip():
            raise ValidationError(f"{name} is required (an ISO 8601 date, e.g. 2026-01-31).",
                                  code="missing_parameter", details={"parameter": name})
    start = service.parse_instant(args["start_date"], "start_date")
    end = service.parse_instant(args["end_date"], "end_date", end=True)
    service.check_range(start, end, names=("start_date", "end_date"))
    return start, end
