"""Executing actions on connections: plan, policy, approval, idempotency, audit.

The console and the JSON API call these with an ``Actor``. Every read and write is scoped to
``actor.workspace_id`` (another workspace's connection or run is the same ``not_found`` as a
missing one). The flow of one request:

1. the action and its parameters are validated against the action's schema (a 422 names the
   parameter), and the connection's policy must allow it;
2. the plan is built: the exact provider requests (``connectors.actions.plan``). A dry run
   returns it and stores nothing (it is audited);
3. otherwise the run is stored with its plan under its idempotency key in one transaction with
   its audit entries. The key is unique per connection: a repeated request (same key, given or
   derived from the action and parameters) finds the stored run and gets its outcome; nothing is
   sent twice;
4. an action the policy holds for approval waits as ``pending_approval``; an admin or the
   connection's owner approves it (its stored plan is then sent, unchanged) or rejects it;
5. the plan is sent through the connection's paced client; the provider's answer (what it
   created, or its refusal in its own words) is stored and audited.

Personal connections (Gmail, Outlook) run actions for their owner only.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from access.service import reader
from audit.service import record
from connections import oauth, service as connections
from connections.models import Connection
from connectors import actions as kit, registry
from connectors.errors import ProviderAuthError, ProviderError, ProviderRateLimited, ProviderRefused
from connectors.kit import Api
from core.actor import Actor
from core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from core.extensions import db
from core.timeutil import isoformat, utcnow

from .models import RUN_STATUSES, ActionPolicy, ActionRun

MAX_KEY = 200
# How long a person's action waits on a provider's rate limit before it is refused.
ACTION_RATE_LIMIT_WAIT = 10.0


# -- reading ----------------------------------------------------------------------------------------

def connection_of(actor: Actor, connection_id: str) -> Connection:
    """The workspace's connection (another workspace's id is the same ``not_found``)."""
    return connections.get(actor, connection_id)


def declared(connection: Connection) -> tuple:
    cls = registry.connector_classes().get(connection.connector_type)
    return tuple(cls.actions) if cls is not None else ()


@dataclass(frozen=True)
class Policy:
    allowed: list | None        # None: every action
    approval: list | None       # None: the destructive ones
    mcp: list

    def allows(self, action) -> bool:
        return self.allowed is None or action.name in self.allowed

    def needs_approval(self, action) -> bool:
        return action.destructive if self.approval is None else action.name in self.approval

    def on_mcp(self, action) -> bool:
        return action.name in self.mcp


def policy_of(connection: Connection) -> Policy:
    row = db.session.get(ActionPolicy, connection.id)
    if row is None:
        return Policy(None, None, [])
    return Policy(row.allowed, row.approval, list(row.mcp or []))


def list_actions(actor: Actor, connection_id: str) -> dict:
    """The connection's actions, each with what its policy says of it."""
    connection = connection_of(actor, connection_id)
    policy = policy_of(connection)
    return {"connection_id": connection.id, "connector_type": connection.connector_type,
            "policy": serialize_policy(connection, policy),
            "actions": [{**a.describe(), "allowed": policy.allows(a), "requires_approval": policy.needs_approval(a),
                         "exposed_over_mcp": policy.on_mcp(a)} for a in declared(connection)]}


def serialize_policy(connection: Connection, policy: Policy) -> dict:
    return {"allowed_actions": policy.allowed, "approval_required": policy.approval, "mcp_tools": policy.mcp}


def serialize_run(run: ActionRun, *, replayed: bool = False) -> dict:
    return {"id": run.id, "connection_id": run.connection_id, "action": run.action, "parameters": run.parameters,
            "status": run.status, "router": run.router, "intent": run.intent, "idempotency_key": run.idempotency_key,
            "replayed": replayed, "plan": [_shown_step(step) for step in run.plan or []], "result": run.result,
            "error": run.error,
            "requested_by": run.requested_by_label, "decided_by": run.decided_by_label,
            "decided_at": isoformat(run.decided_at), "created_at": isoformat(run.created_at),
            "finished_at": isoformat(run.finished_at)}


def _shown_step(step: dict) -> dict:
    return {"method": step["method"], "url": step.get("url") or step["path"], "headers": step.get("headers") or {},
            "body": step.get("body")}


def list_runs(actor: Actor, connection_id: str, status: str | None = None) -> dict:
    connection = connection_of(actor, connection_id)
    if status is not None and status not in RUN_STATUSES:
        raise ValidationError(f"status is one of {', '.join(RUN_STATUSES)}.", code="invalid_parameter",
                              details={"parameter": "status", "allowed": list(RUN_STATUSES)})
    query = select(ActionRun).where(ActionRun.connection_id == connection.id)
    if status is not None:
        query = query.where(ActionRun.status == status)
    runs = db.session.scalars(query.order_by(ActionRun.created_at.desc(), ActionRun.id.desc()).limit(100))
    return {"runs": [serialize_run(r) for r in runs]}


def get_run(actor: Actor, connection_id: str, run_id: str) -> ActionRun:
    connection = connection_of(actor, connection_id)
    run = db.session.get(ActionRun, run_id) if isinstance(run_id, str) else None
    if run is None or run.connection_id != connection.id:
        raise NotFound("Action run not found.", details={"id": run_id})
    return run


# -- who may act --------------------------------------------------------------------------------------

def _require_user(actor: Actor, connection: Connection) -> str | None:
    """The member acting; a personal connection acts for its owner only."""
    user_id = reader(actor).user_id
    if connection.scope == "personal" and (user_id is None or user_id != connection.owner_user_id):
        raise Forbidden("Only the owner of a personal connection can run its actions.",
                        code="not_connection_owner")
    return user_id


def _require_decider(actor: Actor, connection: Connection) -> None:
    """An admin (a member admin, or a key with the ``admin`` scope) or the connection's owner."""
    if actor.is_admin:
        return
    user_id = reader(actor).user_id
    if user_id is not None and user_id == connection.owner_user_id:
        return
    raise Forbidden("Only a workspace admin or the connection's owner can approve or reject its actions.",
                    code="approver_required")


def _require_usable(connection: Connection) -> None:
    if connection.status in ("disconnected", "pending") or not connection.credentials:
        raise Conflict("This connection is not connected: reconnect it before running actions.",
                       code="connection_not_connected", details={"status": connection.status})


# -- planning -------------------------------------------------------------------------------------------

def _action(connection: Connection, name) -> object:
    found = next((a for a in declared(connection) if a.name == name), None)
    if found is None:
        raise ValidationError(f"{connection.connector_type} has no action {name!r}.", code="unknown_action",
                              details={"parameter": "action", "actions": [a.name for a in declared(connection)]})
    return found


def _api(connection: Connection, action=None, params: dict | None = None) -> Api:
    """The connection's paced client, as a sync run has it: its limiter, its refreshed token."""
    connector = registry.get_connector(current_app.config, connection.connector_type)
    ctx = oauth.provider_context(connection, connector, max_wait=ACTION_RATE_LIMIT_WAIT)
    channel = str(params.get(action.channel)) if action is not None and action.channel and params else None
    return Api(connector, ctx, channel)


def _planned(connection: Connection, action, params: dict) -> tuple[list, Api]:
    api = _api(connection, action, params)
    try:
        return kit.plan(action, params, api), api
    except PROVIDER_ERRORS as exc:
        raise _provider_failure(exc) from None


def fingerprint(action: str, params: dict) -> str:
    return hashlib.sha256(json.dumps([action, params], sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _key(given, action: str, params: dict) -> str:
    """The caller's key, or one derived from the request (the same action with the same
    parameters is the same request)."""
    if given is None:
        return "derived:" + fingerprint(action, params)
    if not isinstance(given, str) or not given.strip() or len(given) > MAX_KEY:
        raise ValidationError(f"idempotency_key is a string of 1 to {MAX_KEY} characters.", code="invalid_field",
                              details={"field": "idempotency_key"})
    return given.strip()


# -- executing --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Routed:
    """What a request asks for: the action and its parameters, and who decided (``structured``:
    the caller named the action; ``rules`` or ``model``: a router read an intent)."""

    action: str
    parameters: dict
    router: str = "structured"
    intent: str | None = None


def execute(actor: Actor, connection_id: str, routed: Routed, *, dry_run: bool = False,
            idempotency_key=None) -> tuple[dict, int]:
    """Plan, and unless ``dry_run``, run (or hold for approval) one action. Returns the answer and
    its HTTP status: 200 dry run or replay, 201 executed, 202 waiting for approval."""
    connection = connection_of(actor, connection_id)
    user_id = _require_user(actor, connection)
    action = _action(connection, routed.action)
    params = action.validate(routed.parameters)
    policy = policy_of(connection)
    audit = {"action": action.name, "parameters": params, "router": routed.router, "intent": routed.intent}
    if not policy.allows(action):
        record(actor, "action.refused", target_type="connection", target_id=connection.id, outcome="failure",
               details={**audit, "reason": "not_allowed"})
        db.session.commit()
        raise Forbidden(f"The policy of this connection does not allow {action.name}.", code="action_not_allowed",
                        details={"action": action.name, "allowed_actions": policy.allowed})
    _require_usable(connection)
    key = _key(idempotency_key, action.name, params)
    if not dry_run:
        existing = _existing(connection, key)
        if existing is not None:
            return _replay(existing, action.name, params)
    requests, api = _planned(connection, action, params)
    shown = kit.shown(requests, api)
    # Each step keeps what is sent (path, query, body) and what was shown (URL, headers).
    plan = [{**r.as_dict(), **view} for r, view in zip(requests, shown)]
    if dry_run:
        record(actor, "action.planned", target_type="connection", target_id=connection.id,
               details={**audit, "dry_run": True, "plan": shown})
        db.session.commit()
        return {"dry_run": True, "connection_id": connection.id, "action": action.name, "parameters": params,
                "router": routed.router, "intent": routed.intent, "requires_approval": policy.needs_approval(action),
                "plan": shown}, 200
    waiting = policy.needs_approval(action)
    run = ActionRun(workspace_id=connection.workspace_id, connection_id=connection.id, action=action.name,
                    parameters=params, plan=plan, status="pending_approval" if waiting else "running",
                    idempotency_key=key, fingerprint=fingerprint(action.name, params), router=routed.router,
                    intent=routed.intent, requested_by_type=actor.type, requested_by_id=actor.id,
                    requested_by_label=actor.label, user_id=user_id)
    db.session.add(run)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()       # the same key stored meanwhile (a concurrent retry): its outcome
        existing = _existing(connection, key)
        if existing is None:
            raise
        return _replay(existing, action.name, params)
    if routed.router != "structured":
        record(actor, "action.intent", target_type="action_run", target_id=run.id,
               details={"intent": routed.intent, "router": routed.router, "action": action.name, "parameters": params})
    record(actor, "action.planned", target_type="action_run", target_id=run.id,
           details={**audit, "connection_id": connection.id, "plan": shown})
    if waiting:
        record(actor, "action.approval_requested", target_type="action_run", target_id=run.id,
               details={"action": action.name, "connection_id": connection.id})
        db.session.commit()
        return _answer(run, shown), 202
    db.session.commit()
    _send(actor, run, action, requests, api)
    return _outcome(run, shown)


def _outcome(run: ActionRun, shown: list, *, replayed: bool = False) -> tuple[dict, int]:
    """A finished run's answer: 201 with what the provider created, or the provider's refusal
    as an error (the run is stored, its id in the details)."""
    if run.status == "failed":
        error = run.error or {}
        status = int(error.get("status") or 422)
        raise DomainError(error.get("message") or "The provider refused the action.", code=error.get("code"),
                          status=status, details={**(error.get("details") or {}), "action_run_id": run.id,
                                                  "replayed": replayed})
    return _answer(run, shown), 201


def _answer(run: ActionRun, shown: list) -> dict:
    return {**serialize_run(run), "plan": shown}


def _existing(connection: Connection, key: str) -> ActionRun | None:
    return db.session.scalar(select(ActionRun).where(ActionRun.connection_id == connection.id,
                                                     ActionRun.idempotency_key == key))


def _replay(run: ActionRun, action: str, params: dict) -> tuple[dict, int]:
    """The stored outcome of a repeated request (nothing is sent again): 200 for a run that
    succeeded, is waiting or running; the same error for one that failed."""
    if run.fingerprint != fingerprint(action, params):
        raise Conflict("This idempotency_key was used for another request on this connection.",
                       code="idempotency_key_reused", details={"action_run_id": run.id})
    if run.status == "failed":
        _outcome(run, [], replayed=True)
    return serialize_run(run, replayed=True), 200


def _send(actor: Actor, run: ActionRun, action, requests: list, api: Api) -> None:
    """Send the stored plan; store and audit the provider's answer (or refusal)."""
    run_id = run.id
    try:
        answers = kit.send(requests, api)
        created = action.created(answers, run.parameters, api)
        failure = None
    except PROVIDER_ERRORS as exc:
        failure = _provider_failure(exc)
    run = db.session.get(ActionRun, run_id)
    run.finished_at = utcnow()
    if failure is None:
        run.status, run.result = "succeeded", created
        record(actor, "action.executed", target_type="action_run", target_id=run.id,
               details={"action": run.action, "connection_id": run.connection_id, "provider_answer": created})
    else:
        run.status = "failed"
        run.error = {"code": failure.code, "message": failure.message, "details": failure.details,
                     "status": failure.status}
        record(actor, "action.failed", target_type="action_run", target_id=run.id, outcome="failure",
               details={"action": run.action, "connection_id": run.connection_id, "provider_answer": run.error})
    db.session.commit()


PROVIDER_ERRORS = (ProviderError, ProviderAuthError, ProviderRateLimited)


def _provider_failure(exc) -> DomainError:
    """A provider's answer as our error, in the provider's words (``message``, and
    ``details.provider_message``): a refusal of what was asked (a channel the app is not in, a
    field the provider rejects) is 422; a rate limit 429; the provider failing or refusing our
    credentials 502."""
    status = 422 if isinstance(exc, ProviderRefused) else exc.status
    return DomainError(exc.message, code=exc.code, details=dict(exc.details or {}), status=status)


def decide(actor: Actor, connection_id: str, run_id: str, *, approve: bool) -> tuple[dict, int]:
    """Approve (send the stored plan, as it was shown) or reject a pending run."""
    run = get_run(actor, connection_id, run_id)
    connection = db.session.get(Connection, run.connection_id)
    _require_decider(actor, connection)
    if run.status != "pending_approval":
        raise Conflict(f"This action run is {run.status}, not waiting for approval.", code="not_pending",
                       details={"status": run.status})
    run.decided_by_label, run.decided_at = actor.label, utcnow()
    if not approve:
        run.status, run.finished_at = "rejected", utcnow()
        record(actor, "action.rejected", target_type="action_run", target_id=run.id,
               details={"action": run.action, "connection_id": run.connection_id})
        db.session.commit()
        return serialize_run(run), 200
    _require_usable(connection)
    action = _action(connection, run.action)
    run.status = "running"
    record(actor, "action.approved", target_type="action_run", target_id=run.id,
           details={"action": run.action, "connection_id": run.connection_id})
    db.session.commit()
    requests = [kit.ProviderRequest.from_dict(r) for r in run.plan]
    _send(actor, run, action, requests, _api(connection, action, run.parameters))
    run = db.session.get(ActionRun, run.id)
    return _outcome(run, serialize_run(run)["plan"])


# -- policy --------------------------------------------------------------------------------------------------

def set_policy(actor: Actor, connection_id: str, params: dict) -> dict:
    """An admin sets which actions may run, which wait for approval, which are MCP tools."""
    if not actor.is_admin:
        raise Forbidden("Only a workspace admin can set a connection's action policy.", code="admin_required")
    connection = connection_of(actor, connection_id)
    names = [a.name for a in declared(connection)]
    unknown_fields = sorted(set(params) - {"allowed_actions", "approval_required", "mcp_tools"})
    if unknown_fields:
        raise ValidationError(f"{unknown_fields[0]} is not a policy field.", code="unknown_field",
                              details={"field": unknown_fields[0]})
    row = db.session.get(ActionPolicy, connection.id) or ActionPolicy(connection_id=connection.id,
                                                                      workspace_id=connection.workspace_id, mcp=[])
    for field, attr, nullable in (("allowed_actions", "allowed", True), ("approval_required", "approval", True),
                                  ("mcp_tools", "mcp", False)):
        if field not in params:
            continue
        value = params[field]
        if value is None and nullable:
            setattr(row, attr, None)
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError(f"{field} is a list of action names" + (" or null." if nullable else "."),
                                  code="invalid_field", details={"field": field})
        strangers = [v for v in value if v not in names]
        if strangers:
            raise ValidationError(f"{field}: {connection.connector_type} has no action {strangers[0]!r}.",
                                  code="unknown_action", details={"field": field, "actions": names})
        setattr(row, attr, sorted(set(value)))
    row.updated_by_label = actor.label
    db.session.add(row)
    policy = Policy(row.allowed, row.approval, list(row.mcp or []))
    record(actor, "action.policy_updated", target_type="connection", target_id=connection.id,
           details=serialize_policy(connection, policy))
    db.session.commit()
    return list_actions(actor, connection.id)


def execute_intent(actor: Actor, connection_id: str, intent, context=None, *, dry_run: bool = False,
                   idempotency_key=None) -> tuple[dict, int]:
    """Route a free-text intent among the connection's allowed actions (``actions.routing``), then
    ``execute`` it; the answer says which router decided."""
    from . import routing

    connection = connection_of(actor, connection_id)
    _require_user(actor, connection)
    policy = policy_of(connection)
    allowed = tuple(a for a in declared(connection) if policy.allows(a))
    name = registry.connector_classes()[connection.connector_type].catalog.display_name
    try:
        routed = routing.route(allowed, intent, context, connector=name)
    except DomainError as exc:
        if exc.code in ("could_not_route", "router_unavailable"):
            record(actor, "action.intent", target_type="connection", target_id=connection.id, outcome="failure",
                   details={"intent": intent if isinstance(intent, str) else None, "reason": exc.code,
                            "router": exc.details.get("router", "model")})
            db.session.commit()
        raise
    return execute(actor, connection_id, routed, dry_run=dry_run, idempotency_key=idempotency_key)
