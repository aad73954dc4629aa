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
   connection's owner approves it (its stored plan is then sent, unchanged) or rejects it. The
   approver is not the requester (four-eyes) unless the policy allows ``self_approval``;
5. the plan is sent through the connection's paced client; the provider's answer (what it
   created, or its refusal in its own words) is stored and audited. While it runs, the run holds
   a lease, renewed before every provider request with its progress (the answers so far, the
   step being sent). A run whose lease ran out lost its process (a crash, a kill): the worker's
   sweep reclaims it (``reclaim_stale``): the rest of the plan is sent when no write can have
   reached the provider, or when the write in flight is idempotent; otherwise the provider is
   asked whether it arrived (``Action.find``, a ``connectors.actions.Lookup``), and when it
   cannot be asked, or its answer does not settle it, the run is ``unknown``, with a note saying
   what to check. Nothing is ever sent twice.

Personal connections (Gmail, Outlook) run actions for their owner only.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError

from access.service import reader
from audit.service import record
from connections import oauth, service as connections
from connections.models import Connection
from connectors import actions as kit, registry
from connectors.errors import ProviderAuthError, ProviderError, ProviderRateLimited, ProviderRefused
from connectors.kit import Api
from core.actor import Actor, system_actor
from core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationError
from core.extensions import db
from core.timeutil import isoformat, utcnow

from .models import RUN_STATUSES, ActionPolicy, ActionRun

log = logging.getLogger(__name__)

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
    self_approval: bool = False     # False: four-eyes, the requester does not approve their own

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
    return Policy(row.allowed, row.approval, list(row.mcp or []), bool(row.self_approval))


def list_actions(actor: Actor, connection_id: str) -> dict:
    """The connection's actions, each with what its policy says of it."""
    connection = connection_of(actor, connection_id)
    policy = policy_of(connection)
    return {"connection_id": connection.id, "connector_type": connection.connector_type,
            "policy": serialize_policy(connection, policy),
            "actions": [{**a.describe(), "allowed": policy.allows(a), "requires_approval": policy.needs_approval(a),
                         "exposed_over_mcp": policy.on_mcp(a)} for a in declared(connection)]}


def serialize_policy(connection: Connection, policy: Policy) -> dict:
    return {"allowed_actions": policy.allowed, "approval_required": policy.approval, "mcp_tools": policy.mcp,
            "self_approval": policy.self_approval}


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


def requested_by(actor: Actor, run: ActionRun) -> bool:
    """Whether ``actor`` is who requested ``run``: the same member (in the console or through one
    of their keys), or the same API key."""
    user_id = reader(actor).user_id
    if user_id is not None and user_id == run.user_id:
        return True
    return actor.id is not None and (actor.type, actor.id) == (run.requested_by_type, run.requested_by_id)


def _require_other_person(actor: Actor, run: ActionRun, policy: Policy) -> None:
    """Four-eyes: a request is approved by someone other than who made it, unless the policy
    allows self-approval. (Rejecting one's own request, withdrawing it, is always allowed.)"""
    if not policy.self_approval and requested_by(actor, run):
        raise Forbidden("You requested this action: another admin or the connection's owner must approve it "
                        "(four-eyes; an admin may allow self-approval in the connection's action policy).",
                        code="self_approval_not_allowed", details={"requested_by": run.requested_by_label})


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
                    lease_until=None if waiting else _lease_end(),
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


def _lease_end():
    return utcnow() + timedelta(seconds=float(current_app.config["ACTION_LEASE_SECONDS"]))


class LeaseLost(Exception):
    """The run is no longer this process's (its lease ran out and it was reclaimed): stop sending."""


def _progress(run_id: str):
    """Before each provider request: store the answers so far and the step about to go out, and
    renew the lease, in a commit of its own (so a process that dies leaves them behind)."""
    def before(at: int, answers: list) -> None:
        done = db.session.execute(update(ActionRun).where(ActionRun.id == run_id, ActionRun.status == "running")
                                  .values(progress={"answers": answers, "sending": at}, lease_until=_lease_end()))
        db.session.commit()
        if done.rowcount != 1:
            raise LeaseLost(run_id)
    return before


def _send(actor: Actor, run: ActionRun, action, requests: list, api: Api, *, answers: list | None = None,
          note: str | None = None) -> None:
    """Send the stored plan (after ``answers``, those of its requests already sent); store and
    audit the provider's answer (or refusal). ``note`` says how a reclaimed run ended."""
    run_id = run.id
    try:
        answers = kit.send(requests, api, answers=answers, before=_progress(run_id))
        created = action.created(answers, run.parameters, api)
        failure = None
    except PROVIDER_ERRORS as exc:
        failure = _provider_failure(exc)
    except LeaseLost:
        log.warning("action run %s was reclaimed while it ran; its outcome is the reclaim's", run_id)
        return
    _finish(actor, run_id, created if failure is None else None, failure, note=note)


def _finish(actor: Actor, run_id: str, created: dict | None, failure: DomainError | None, *,
            note: str | None = None, status: str | None = None) -> None:
    run = db.session.get(ActionRun, run_id)
    if run.status != "running":     # reclaimed meanwhile: the reclaim decided
        db.session.rollback()
        return
    run.finished_at, run.lease_until, run.progress = utcnow(), None, None
    if failure is None and status is None:
        run.status, run.result = "succeeded", {**created, **({"note": note} if note else {})}
        record(actor, "action.executed", target_type="action_run", target_id=run.id,
               details={"action": run.action, "connection_id": run.connection_id, "provider_answer": created,
                        **({"note": note} if note else {})})
    else:
        run.status = status or "failed"
        run.error = {"code": failure.code, "message": failure.message, "details": failure.details,
                     "status": failure.status}
        record(actor, "action.failed" if run.status == "failed" else "action.reclaimed", target_type="action_run",
               target_id=run.id, outcome="failure",
               details={"action": run.action, "connection_id": run.connection_id, "provider_answer": run.error,
                        "status": run.status})
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
    if approve:
        _require_other_person(actor, run, policy_of(connection))
    run.decided_by_label, run.decided_at = actor.label, utcnow()
    if not approve:
        run.status, run.finished_at = "rejected", utcnow()
        record(actor, "action.rejected", target_type="action_run", target_id=run.id,
               details={"action": run.action, "connection_id": run.connection_id})
        db.session.commit()
        return serialize_run(run), 200
    _require_usable(connection)
    action = _action(connection, run.action)
    run.status, run.lease_until = "running", _lease_end()
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
    unknown_fields = sorted(set(params) - {"allowed_actions", "approval_required", "mcp_tools", "self_approval"})
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
    if "self_approval" in params:
        if not isinstance(params["self_approval"], bool):
            raise ValidationError("self_approval is true or false.", code="invalid_field",
                                  details={"field": "self_approval"})
        row.self_approval = params["self_approval"]
    row.updated_by_label = actor.label
    db.session.add(row)
    policy = Policy(row.allowed, row.approval, list(row.mcp or []), bool(row.self_approval))
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


# -- reclaiming runs whose process died ------------------------------------------------------------------

def _stale(now):
    """A running run whose lease ran out (or, from before leases, that has run a lease's length)."""
    lease = timedelta(seconds=float(current_app.config["ACTION_LEASE_SECONDS"]))
    return and_(ActionRun.status == "running",
                or_(ActionRun.lease_until < now,
                    and_(ActionRun.lease_until.is_(None), ActionRun.created_at < now - lease)))


def reclaim_stale() -> list[str]:
    """Reclaim every running action whose lease ran out (its process died mid-run); the ids
    reclaimed. Each is claimed first (its lease moved on, if it is still stale), so two sweeps
    never handle one run. See the module docstring for what becomes of it."""
    now = utcnow()
    reclaimed = []
    for run_id in list(db.session.scalars(select(ActionRun.id).where(_stale(now)))):
        claimed = db.session.execute(update(ActionRun).where(ActionRun.id == run_id, _stale(now))
                                     .values(lease_until=_lease_end()))
        db.session.commit()
        if claimed.rowcount != 1:
            continue
        try:
            _reclaim(db.session.get(ActionRun, run_id))
        except Exception:  # noqa: BLE001 - one run's trouble must not stop the sweep; it is retried next time
            log.exception("reclaiming action run %s failed", run_id)
            db.session.rollback()
        reclaimed.append(run_id)
    return reclaimed


def _reclaim(run: ActionRun) -> None:
    actor = system_actor(run.workspace_id)
    connection = db.session.get(Connection, run.connection_id)
    action = next((a for a in declared(connection) if a.name == run.action), None)
    requests = [kit.ProviderRequest.from_dict(r) for r in run.plan or []]
    progress = run.progress or {}
    answers = list(progress.get("answers") or [])
    sending = progress.get("sending")
    in_flight = requests[sending] if isinstance(sending, int) and sending == len(answers) < len(requests) else None
    step = f"{in_flight.method} {in_flight.path}" if in_flight is not None else None
    record(actor, "action.reclaimed", target_type="action_run", target_id=run.id,
           details={"action": run.action, "connection_id": run.connection_id, "answered": len(answers),
                    "in_flight": step})
    db.session.commit()
    if action is None or connection.status in ("disconnected", "pending") or not connection.credentials:
        _unknown(actor, run, step, "its connection can no longer reach the provider")
        return
    api = _api(connection, action, run.parameters)
    if in_flight is None or in_flight.method == "GET" or action.idempotent:
        # Nothing in flight could have written (or writing it again changes nothing): the rest of
        # the plan goes out now, as the request asked.
        why = "no write of it had reached the provider" if in_flight is None or in_flight.method == "GET" else \
            "the write in flight sets a state, so sending it again changes nothing"
        _send(actor, run, action, requests, api, answers=answers,
              note=f"Its process stopped; the run was resumed ({why}).")
        return
    if action.find is None:
        _unknown(actor, run, step, f"{run.action} cannot be looked up at the provider")
        return
    try:
        found = action.find(requests, run.parameters, api, run.created_at - timedelta(minutes=5))
    except PROVIDER_ERRORS as exc:
        _unknown(actor, run, step, f"the provider could not be asked ({exc.message})")
        return
    except kit.Undecided as exc:
        _unknown(actor, run, step, f"the provider was asked, but {exc}")
        return
    if found is not None:
        created = action.created(answers + list(found), run.parameters, api)
        _finish(actor, run.id, created, None,
                note="Its process stopped while the request was on its way; the provider has it (looked up).")
        return
    _finish(actor, run.id, None, DomainError(
        f"The process running {run.action} stopped while {step} was on its way, and the provider has no trace of "
        "it: nothing was written. Run it again with a new idempotency key.", code="action_interrupted", status=409,
        details={"in_flight": step, "looked_up": True}))


def _unknown(actor: Actor, run: ActionRun, step: str | None, why: str) -> None:
    """The run's write may or may not have reached the provider, and that cannot be found out:
    ``unknown``, with what to check. It is not sent again."""
    _finish(actor, run.id, None, DomainError(
        f"The process running {run.action} stopped while {step} was on its way; whether the provider received it "
        f"is unknown ({why}). Look in the provider before running it again: it was not sent twice.",
        code="action_outcome_unknown", status=409, details={"in_flight": step}), status="unknown")
