"""The OpenAPI paths and schemas of the account surfaces: usage, subscription and users.

Kept apart from ``openapi.py`` while that module moves to being generated from typed models: the
schemas here already are (the pydantic models of ``account.py`` and ``users.py``, through
``model_json_schema``), the operations use ``openapi.py``'s ``_operation`` so their errors,
scopes and descriptions read like every other. ``build_openapi()`` merges ``paths(enums)`` and
``schemas(enums)``, and ``with_limits`` adds ``409 limit_exceeded`` to the operations that
enforce the operator's limits (connect, pipeline sync, query).

The stable error codes these operations add are registered in ``openapi.ERROR_CODES`` and
``ERROR_EXAMPLES`` when this module is imported, so the description tables and examples work
as for the rest.
"""
from __future__ import annotations

from .account import Subscription, UsageReport
from .openapi import (BODY_ERRORS, ERROR_CODES, ERROR_EXAMPLES, _body, _error_example, _json_content, _ok,
                      _operation, _ref)
from .users import InvitationRevoked, InviteRequest, InviteResponse, Member, MemberRemoved, RoleUpdate, UserList

CODES = {
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
EXAMPLES = {
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
ERROR_CODES.update(CODES)
ERROR_EXAMPLES.update(EXAMPLES)

MODELS = (UsageReport, Subscription, UserList, Member, InviteRequest, InviteResponse, RoleUpdate, MemberRemoved,
          InvitationRevoked)
USER_ID_EXAMPLE = "usr_xcfarsgfkzypkol4"
INVITATION_ID_EXAMPLE = "inv_q2w8e4r6t1y3u5i7"
ADMIN_ONLY = "Needs the `admin` scope: usage, limits and membership are the workspace administrators' business."


def schemas(enums: dict) -> dict:
    """The models' JSON schemas as components (their nested models too, by name)."""
    found = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization"
                                         if model not in (InviteRequest, RoleUpdate) else "validation")
        for name, nested in schema.pop("$defs", {}).items():
            found[name] = nested
        found[model.__name__] = schema
    return found


def _param(name: str, description: str, example: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "examples": [example]}}


USER_ID = _param("user_id", "A member's user id. A user of another workspace, or nobody, is `404 not_found` alike.",
                 USER_ID_EXAMPLE)
INVITATION_ID = _param("invitation_id", "An invitation id. Another workspace's invitation, or none, is "
                                        "`404 not_found` alike.", INVITATION_ID_EXAMPLE)


def _query(name: str, description: str, schema: dict) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def _member_example(**overrides) -> dict:
    return {"id": USER_ID_EXAMPLE, "email": "ada@acme.example", "name": "Ada Admin", "role": "admin",
            "joined_at": "2026-11-02T09:00:00Z", "last_sign_in_at": "2026-12-06T08:12:40Z", **overrides}


def _invitation_example(**overrides) -> dict:
    return {"id": INVITATION_ID_EXAMPLE, "email": "bob@acme.example", "role": "member",
            "created_at": "2026-12-06T10:00:00Z", "expires_at": "2026-12-13T10:00:00Z",
            "invited_by": USER_ID_EXAMPLE, "last_sent_at": None, **overrides}


def _series(values, start_day=1):
    return [{"start": f"2026-12-0{start_day + i}T00:00:00Z", "value": v} for i, v in enumerate(values)]


USAGE_EXAMPLE = {
    "workspace_id": "org_a8bd3kq9x0v7m2p1", "period": "week", "start": "2026-11-29T12:00:00Z",
    "end": "2026-12-06T12:00:00Z", "bucket": "day",
    "storage": {"documents": 412000, "chunks": 1230000, "embedded_chunks": 1229942, "chunking_backlog": 3,
                "embedding_backlog": 58, "bytes": {"text": 802000000, "embeddings": 1889190912,
                                                   "total": 2691190912}},
    "queries": {"count": 5, "latency_ms": {"p50": 41.2, "p95": 180.5}, "series": _series([1, 0, 2, 0, 1, 0, 1])},
    "sync": {"runs": 3, "failed_runs": 1, "records_written": 157,
             "connections": [{"connection_id": "conn_3kq9x0v7m2p1a8bd", "name": "GitHub", "connector_type": "github",
                              "runs": 2, "failed_runs": 1, "records_written": 150}],
             "series": _series([0, 120, 0, 30, 0, 0, 7])},
    "api_calls": {"calls": 42, "errors": 2, "keys": [{"api_key_id": "key_u6qtwlc35tlax2mv", "name": "ingest",
                                                      "prefix": "trb_3kq9x0v7", "revoked": False, "calls": 42,
                                                      "errors": 2}],
                  "series": _series([6, 6, 6, 6, 6, 6, 6])},
    "pipeline": {"requests": 2, "operations": 30, "upserted": 28, "deleted": 2, "series": _series([0, 0, 0, 30, 0, 0, 0])},
}
SUBSCRIPTION_EXAMPLE = {
    "plan": "self_hosted", "workspace_id": "org_a8bd3kq9x0v7m2p1", "resets_at": "2026-12-07T00:00:00Z",
    "limits": [
        {"name": "connections", "limit": 25, "used": 21, "period": None, "percent": 84.0, "status": "near_limit"},
        {"name": "documents", "limit": None, "used": 412000, "period": None, "percent": None, "status": "ok"},
        {"name": "queries_per_day", "limit": 10000, "used": 1250, "period": "day", "percent": 12.5, "status": "ok"},
        {"name": "pipeline_operations_per_day", "limit": None, "used": 30, "period": "day", "percent": None,
         "status": "ok"}],
}


def paths(enums: dict) -> dict:
    from usage.service import MAX_SPAN

    not_found_member = ("not_found", "There is no such member in the key's workspace (a user of another workspace "
                                     "gets exactly the same answer).")
    body_422 = BODY_ERRORS + [("missing_field", "`role` is absent, `null` or blank; `details.field` names it."),
                              ("invalid_field", "A field is not a string; `details.field` names it."),
                              ("unknown_field", "The body has a field other than those listed; `details.field` "
                                                "names it."),
                              "invalid_role"]
    return {
        "/api/v1/usage": {"get": _operation(
            operation_id="getUsage", tag="Account", scope="admin", summary="The workspace's usage",
            behaviour=f"""
What the key's workspace stores now (documents, chunks, chunks waiting to be embedded, bytes of text and embeddings)
and what it did over a window: queries with their p50 / p95 latency (nearest rank), sync runs and records written
per connection, API calls per key (refused ones counted as `errors`), pipeline-sync requests and operations. Each
activity has a `series` per `bucket` (hours for windows up to two days, else days; every bucket present, zeros
included), for charts.

The window is `period` (`day`, `week`, `month` = 24 hours, 7 days, 30 days; default `month`) ending now, or an
explicit `start` and/or `end` (ISO 8601; without an offset, UTC; a missing `start` is `end` minus the period), at
most {MAX_SPAN.days} days. Every figure is counted from the database's own records of each thing (`query_log`, sync
runs, pipeline syncs, one row per key and hour of API calls; stored documents from a rollup that database triggers
keep in the writing transaction). {ADMIN_ONLY}
""",
            parameters=[_query("period", "`day`, `week` or `month` (default).",
                               {"type": "string", "enum": ["day", "week", "month"]}),
                        _query("start", "The window's start (ISO 8601).", {"type": "string"}),
                        _query("end", "The window's end (ISO 8601; default now).", {"type": "string"})],
            responses={200: _ok("The usage.", "UsageReport", example=USAGE_EXAMPLE)},
            errors={422: [("invalid_parameter", "`period` is not `day`, `week` or `month`, or `start` / `end` is "
                                                "not ISO 8601 (or has NUL); `details.parameter` names it."),
                          ("invalid_date_range", "`start` is not before `end`, or the window spans more than "
                                                 f"{MAX_SPAN.days} days; `details.field` is `start`.")]})},
        "/api/v1/subscription": {"get": _operation(
            operation_id="getSubscription", tag="Account", scope="admin",
            summary="The plan, its limits and the usage against each",
            behaviour="A self-hosted deployment's plan is `self_hosted`. `limits` lists the four limits its operator "
                      "can configure (`LIMIT_CONNECTIONS`, `LIMIT_DOCUMENTS`, `LIMIT_QUERIES_PER_DAY`, "
                      "`LIMIT_PIPELINE_OPERATIONS_PER_DAY`; `null`, the default, is unlimited), each with the "
                      "workspace's usage, the percentage and a `status` (`near_limit` from 80 %, `reached` at 100 %). "
                      "Connections count those not disconnected; daily limits count the UTC day (`resets_at`). "
                      "Passing a limit is refused where the thing is made: connecting, pipeline sync and queries "
                      "answer `409 limit_exceeded` naming it. " + ADMIN_ONLY,
            responses={200: _ok("The subscription.", "Subscription", example=SUBSCRIPTION_EXAMPLE)}, errors={})},
        "/api/v1/users": {"get": _operation(
            operation_id="listUsers", tag="Users", scope="admin", summary="Members and pending invitations",
            behaviour="The workspace's members by name, with their role, when they joined and when they last signed "
                      "in, and the invitations still pending (not accepted, revoked or expired), newest first. "
                      + ADMIN_ONLY,
            responses={200: _ok("Members and invitations.", "UserList", example={
                "users": [_member_example()], "invitations": [_invitation_example()]})}, errors={})},
        "/api/v1/users/invite": {"post": _operation(
            operation_id="inviteUser", tag="Users", scope="admin", summary="Invite someone by e-mail address",
            behaviour="Creates an invitation of `email` (trimmed, lower-cased) with `role` (default `member`). The "
                      "link works once, until `expires_at` (`INVITATION_TTL_DAYS`, 7 days by default), and not after "
                      "it is revoked; only a hash of its token is stored. With SMTP configured it is e-mailed "
                      "(`delivery: email`); otherwise (or when the mail server refuses it) `invitation_url` carries "
                      "the link, this once, to pass on (`delivery: link`). The person opens it, sets a password (or "
                      "signs in to the account the address has) and is a member. Inviting an address with a pending "
                      "invitation replaces it (the earlier link stops working). Audited (`invitation.created`). "
                      + ADMIN_ONLY,
            request_body=_body("InviteRequest", examples={"member": {"value": {"email": "bob@acme.example",
                                                                               "role": "member"}}}),
            responses={201: _ok("Invited.", "InviteResponse", example={
                "invitation": _invitation_example(), "delivery": "link",
                "invitation_url": "https://tributary.acme.example/invitations/Qm9i...c3Q"})},
            errors={409: ["already_member"],
                    422: BODY_ERRORS + [("missing_field", "`email` is absent, `null` or blank; `details.field` "
                                                          "names it."),
                                        ("invalid_field", "`email` or `role` is not a string; `details.field` "
                                                          "names it."),
                                        ("unknown_field", "The body has a field other than `email` and `role`; "
                                                          "`details.field` names it."),
                                        "invalid_email", "invalid_role"]})},
        "/api/v1/users/{user_id}": {
            "parameters": [USER_ID],
            "patch": _operation(
                operation_id="changeUserRole", tag="Users", scope="admin", summary="Change a member's role",
                behaviour="Makes a member an admin or an admin a member. The workspace's only admin cannot be made "
                          "a member (`409 last_admin`); changes are serialized per workspace, so two admins "
                          "demoting each other at once cannot both succeed. Setting the role a member has changes "
                          "nothing. Audited (`member.role_changed`). " + ADMIN_ONLY,
                request_body=_body("RoleUpdate", examples={"promote": {"value": {"role": "admin"}}}),
                responses={200: _ok("The member as they are now.", "Member", example=_member_example())},
                errors={404: [not_found_member], 409: ["last_admin"], 422: body_422}),
            "delete": _operation(
                operation_id="removeUser", tag="Users", scope="admin", summary="Remove a member",
                behaviour="Removes the member from the workspace: their account stays (they may belong to other "
                          "workspaces), as do the workspace's connections, keys and documents; their personal "
                          "connections here are disconnected in the same transaction. The only admin cannot be "
                          "removed (`409 last_admin`). Audited (`member.removed`). " + ADMIN_ONLY,
                responses={200: _ok("Removed.", "MemberRemoved", example={
                    "removed": True, "user_id": USER_ID_EXAMPLE, "disconnected_connection_ids": []})},
                errors={404: [not_found_member], 409: ["last_admin"]}),
        },
        "/api/v1/users/invitations/{invitation_id}": {
            "parameters": [INVITATION_ID],
            "delete": _operation(
                operation_id="revokeInvitation", tag="Users", scope="admin", summary="Revoke an invitation",
                behaviour="Its link stops working at once. Revoking an invitation that is no longer pending "
                          "(accepted, revoked, expired) changes nothing and answers the same. Audited "
                          "(`invitation.revoked`). " + ADMIN_ONLY,
                responses={200: _ok("Revoked.", "InvitationRevoked", example={
                    "revoked": True, "invitation": _invitation_example()})},
                errors={404: [("not_found", "There is no such invitation in the key's workspace (another "
                                            "workspace's gets exactly the same answer).")]}),
        },
    }


# The operations that make what the operator's limits count.
LIMITED = {("/api/v1/connections", "post"): "connections",
           ("/v1/connectors", "post"): "connections",
           ("/v1/pipeline/sync", "post"): "pipeline_operations_per_day` or `documents",
           ("/api/v1/query", "post"): "queries_per_day"}


def with_limits(all_paths: dict) -> dict:
    """Add ``409 limit_exceeded`` to the operations that enforce a limit (row, enum, example)."""
    for (path, method), limit in LIMITED.items():
        operation = all_paths.get(path, {}).get(method)
        if operation is None:
            continue
        when = (f"The workspace is at its `{limit}` limit (the operator's; `GET /api/v1/subscription`); "
                "`details.limit` names it. Nothing is written.")
        row = f"| 409 | `limit_exceeded` | {when} |"
        lines = operation["description"].split("\n")
        rows = [i for i, line in enumerate(lines) if line.startswith("| 4") or line.startswith("| 5")]
        at = next((i for i in rows if lines[i] > row), rows[-1] + 1 if rows else len(lines))
        lines.insert(at, row)
        operation["description"] = "\n".join(lines)
        response = operation["responses"].get("409")
        if response is None:
            operation["responses"]["409"] = {
                "description": "Conflict: `limit_exceeded`.",
                "content": _json_content({"allOf": [_ref("Error"), {"properties": {"error": {"properties": {
                    "code": {"enum": ["limit_exceeded"]}}}}}]}, example=_error_example("limit_exceeded"))}
            operation["responses"] = dict(sorted(operation["responses"].items()))
        else:
            schema = response["content"]["application/json"]["schema"]
            schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"].append("limit_exceeded")
            response["description"] = response["description"].rstrip(".") + ", `limit_exceeded`."
    return all_paths


TAGS = [{"name": "Account", "description": "The workspace's usage, and the plan with the operator's limits."},
        {"name": "Users", "description": "Members, roles and invitations."}]
