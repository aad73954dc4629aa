"""The audit trail's action vocabulary: every ``action`` an entry can carry, and what it means.

``audit.service.record`` refuses an action that is not here (a programming error, caught by any
test that reaches the call), ``tests/audit/test_actions.py`` scans the code's ``record`` calls
against this table, and the README's "Audit log" table is checked against it. Actions are part of
the public contract (filters, SIEM rules, the SOC 2 report): never rename one.
"""
from sync.models import TERMINAL_STATUSES

_SYNC_FINISHED = {f"sync.{status}": f"A sync run ended {status.replace('_', ' ')} (recorded by the system)."
                  for status in TERMINAL_STATUSES}

ACTIONS: dict[str, str] = {
    # accounts
    "workspace.created": "A workspace was created (first-run setup or by a signed-in user).",
    "member.added": "An admin added a member (`details.role`), or an invited person joined (`details.via: "
                    "invitation`, `details.invitation_id`).",
    "member.role_changed": "An admin changed a member's role (`details.from`, `details.to`).",
    "member.removed": "An admin removed a member (their personal connections here were disconnected).",
    "auth.sign_in": "A console sign-in. `outcome: failure` with `details.reason` `bad_credentials` or "
                    "`locked_out` (refused while the account was throttled); `details.locked: true` on the "
                    "failure that locked it. Failures for an unknown e-mail belong to no workspace.",
    "auth.sign_out": "A member signed out of the console.",
    "invitation.created": "An admin invited an e-mail address (`details.email`, `details.role`, `details.delivery`: "
                          "`email` or `link`).",
    "invitation.resent": "An admin renewed an invitation: a new link, the previous one no longer works "
                         "(`details.delivery`; `details.reissued: true` when it had expired).",
    "invitation.revoked": "An invitation was revoked by an admin, removed after it expired (`details.reason: "
                          "expired`), or replaced by a new invitation of the same address (`details.reason: "
                          "replaced`).",
    "invitation.expired": "An invitation expired unused (recorded by the system's housekeeping; `details.email`, "
                          "`details.role`, `details.expires_at`).",
    "invitation.accepted": "The invited person joined the workspace through the link (`details.email`, "
                           "`details.role`).",
    "api_key.created": "An admin created an API key (`details.name`, `details.scopes`, `details.kind`).",
    "api_key.revoked": "An admin revoked an API key.",
    # connections
    "connection.authorization_started": "An OAuth connect or reconnect was started.",
    "connection.authorization_failed": "An OAuth authorization came back refused or invalid.",
    "connection.connected": "A connection was added (`details.connector_type`, `details.method`).",
    "connection.reconnected": "A connection's credentials were replaced, or a disconnected one came back.",
    "connection.disconnected": "A connection was disconnected (its credentials dropped).",
    "connection.secret_rotated": "A webhook connection's signing secret was rotated.",
    "connection.updated": "A connection's settings were changed (`details` lists the changed fields).",
    "connection.checked": "A connection's credentials were checked against the provider.",
    "connection.token_refreshed": "The system refreshed a connection's OAuth access token.",
    "connection.needs_reauth": "The provider refused a connection's credentials; its owner must reconnect.",
    # sync
    "sync.requested": "A sync was requested (`details.mode`).",
    "sync.cancel_requested": "Cancelling a sync run was requested.",
    "sync.schedule_updated": "A channel's sync schedule was changed.",
    "sync.cadence_updated": "The platform admin changed a connector type's sync cadence.",
    **_SYNC_FINISHED,
    # knowledge
    "query.executed": "A query ran (`details`: via, filters, limit, result count; never its results).",
    "access.override": "An admin queried past document access (`audit_access`).",
    "document.deleted": "A document was deleted from the knowledge store.",
    "pipeline.sync": "A pipeline-sync request wrote to a vector store (`details` has its counts).",
    "vector_store.created": "A vector store was created.",
    "vector_store.deleted": "A vector store was deleted with its documents.",
    # actions (actions/service.py)
    "action.intent": "An intent was routed to an action (`details`: intent, router, action, parameters), or could "
                     "not be (`outcome: failure`, `details.reason`).",
    "action.planned": "An action's plan was made: the exact provider requests, secrets redacted (`details.plan`; "
                      "`details.dry_run` when nothing was sent).",
    "action.refused": "The connection's action policy did not allow an action (`outcome: failure`).",
    "action.approval_requested": "An action was stored waiting for an admin's or the owner's approval.",
    "action.approved": "An admin or the connection's owner approved a pending action (its stored plan is sent).",
    "action.rejected": "An admin or the connection's owner rejected a pending action (nothing was sent).",
    "action.executed": "An action ran; `details.provider_answer` is what the provider created (ids, URLs).",
    "action.failed": "An action's provider request failed (`outcome: failure`); `details.provider_answer` is the "
                     "provider's refusal in its words.",
    "action.reclaimed": "A running action whose process stopped was reclaimed (`details.in_flight`: the request "
                        "that may have been on its way), or ended `unknown` (`outcome: failure`): whether the "
                        "provider received it could not be found out; it was not sent again.",
    "action.policy_updated": "An admin changed a connection's action policy (allowed, needing approval, MCP tools).",
    # the installation's encryption keys (no workspace)
    "vault.keys_rotated": "`flask keys rotate` re-encrypted every stored secret under a new primary key "
                          "(`details.primary_key`: its fingerprint).",
    "vault.keys_retired": "`flask keys retire` dropped every key but the primary.",
    # the audit trail itself
    "audit.exported": "The audit log was exported (`details.format`: csv, soc2_json or soc2_pdf).",
    "audit.verification_requested": "An admin asked for a full verification of the workspace's hash chain (the "
                                    "scheduler runs it).",
    "audit.verified": "A full verification walked the whole chain and found it intact (`details.trigger`: schedule, "
                      "request or cli; `details.entries_checked`, `details.head_seq`).",
    "audit.chain_broken": "A full verification found the chain broken (`outcome: failure`; `details.first_bad_seq`, "
                          "`details.first_bad_entry_id`, `details.reason`).",
    "audit.checkpoints_resigned": "`flask audit resign` re-signed the chain's checkpoints with the current "
                                  "`SECRET_KEY` after verifying it fully (`details.count`).",
    "audit.entries_removed": "Retention removed a workspace's entries older than `AUDIT_RETENTION_DAYS` "
                             "(`details.through_seq`, `details.count`); the chain's anchor keeps the last one's hash.",
}

OUTCOMES = ("success", "failure")
ACTOR_TYPES = ("user", "api_key", "system", "anonymous")


def matching(pattern: str) -> list[str]:
    """The actions an ``action`` filter names: itself, or with a trailing ``.*`` every action
    under that prefix (``connection.*``). Empty when it names none."""
    if pattern.endswith(".*"):
        prefix = pattern[:-1]
        return [action for action in ACTIONS if action.startswith(prefix)]
    return [pattern] if pattern in ACTIONS else []
