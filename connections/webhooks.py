"""Inbound webhook deliveries: signature, timestamp window, replay refusal.

Signature header: ``Tributary-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` where the
HMAC key is the connection's signing secret and the message is ``"<t>." + raw body``.
Several ``v1`` values may be sent (during a secret rotation); one matching is enough.

Signing secrets rotate while connected (``rotated_credentials``): the new secret is accepted at
once, and the one it replaces for a grace period (``WEBHOOK_SECRET_GRACE_SECONDS`` by default),
so a sender can switch without losing deliveries. The connection's encrypted credentials hold
``signing_secret`` and, during a grace period, ``previous_signing_secret`` and
``previous_secret_expires_at``; a second rotation drops the older previous secret at once.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timedelta
from typing import Annotated, Any

import pydantic
from flask import current_app
from pydantic import RootModel, model_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core import strict_json
from core.errors import Conflict, DomainError, NotFound, Unauthorized, ValidationError
from core.extensions import db
from core.ids import new_token
from core.requests import refusal, refuse, worded
from core.timeutil import isoformat, utcnow

from .models import Connection, WebhookDelivery

SIGNATURE_HEADER = "Tributary-Signature"
MAX_BODY = 1024 * 1024
MAX_GRACE_SECONDS = 7 * 24 * 3600  # the longest a replaced signing secret stays accepted


def new_signing_secret() -> str:
    return "whsec_" + new_token(32)


def accepted_secrets(credentials: dict | None, now: datetime) -> list[str]:
    """The secrets a delivery may be signed with now: the current one, and the one it replaced
    while that one's grace period lasts."""
    credentials = credentials or {}
    secrets = [credentials["signing_secret"]] if credentials.get("signing_secret") else []
    previous, until = credentials.get("previous_signing_secret"), credentials.get("previous_secret_expires_at")
    if previous and until and now < datetime.fromisoformat(until.replace("Z", "+00:00")):
        secrets.append(previous)
    return secrets


def rotated_credentials(credentials: dict | None, grace: timedelta, now: datetime) -> tuple[dict, str, datetime | None]:
    """``(credentials, new secret, when the old one stops working or None)`` for a rotation
    that keeps the current secret working for ``grace`` (not at all for zero)."""
    secret = new_signing_secret()
    rotated = {"signing_secret": secret}
    current = (credentials or {}).get("signing_secret")
    expires = now + grace if current and grace > timedelta(0) else None
    if expires is not None:
        rotated.update(previous_signing_secret=current, previous_secret_expires_at=isoformat(expires))
    return rotated, secret, expires


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value a sender puts on ``body`` (for clients, tests and the docs)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def forget_expired_secrets() -> int:
    """Drop replaced signing secrets whose grace period is over (housekeeping: they are refused
    anyway, and a secret no longer needed is better not kept). The caller commits."""
    now, dropped = utcnow(), 0
    for connection in db.session.scalars(select(Connection).where(Connection.connector_type == "webhook",
                                                                  Connection.credentials.isnot(None))):
        credentials = connection.credentials or {}
        if credentials.get("previous_signing_secret") and len(accepted_secrets(credentials, now)) < 2:
            connection.credentials = {"signing_secret": credentials.get("signing_secret")}
            dropped += 1
    return dropped


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                pass
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise Unauthorized(f"The {SIGNATURE_HEADER} header is missing or malformed.", code="missing_signature")
    return timestamp, signatures


class WebhookPayload(RootModel[Annotated[dict[str, Any] | list[Any], worded(
        "The payload must be a JSON object or array.", code="invalid_payload")]]):
    """Any JSON object or array, at most 1 MiB."""

    @model_validator(mode="after")
    def _readers(self):
        """A record may name who may read it (``readers``, the pipeline's grammar); a bad list is
        refused with the delivery, never stored to fail later (or, worse, to be read as nobody's)."""
        from knowledge.pipeline import parse_readers

        records = self.root if isinstance(self.root, list) else [self.root]
        for index, record in enumerate(records):
            if isinstance(record, dict) and record.get("readers") is not None:
                try:
                    parse_readers(record["readers"])
                except ValueError as exc:
                    where = {"index": index} if isinstance(self.root, list) else {}
                    raise refuse("invalid_readers", f"The delivery's readers cannot be used: {exc}",
                                 field="readers", **where) from None
        return self


def parse_payload(body: bytes):
    """The delivery's payload: strict JSON (``invalid_payload`` naming the parser's reason), then
    ``WebhookPayload`` (an object or an array; ``invalid_readers``)."""
    try:
        payload = strict_json.loads(body)
    except ValidationError as exc:
        # The webhook contract has one code for a payload it cannot take; the reason stays in details.
        raise ValidationError(f"The payload cannot be stored. {exc.message}", code="invalid_payload",
                              details={"reason": exc.code, **exc.details}) from None
    try:
        return WebhookPayload.model_validate(payload).root
    except pydantic.ValidationError as exc:
        raise refusal(exc, kind="field", model=WebhookPayload) from None


def receive(connection_id: str, header: str | None, body: bytes) -> WebhookDelivery:
    connection = db.session.get(Connection, connection_id)
    if connection is None or connection.connector_type != "webhook":
        raise NotFound("Webhook not found.")
    if connection.status == "disconnected":
        raise DomainError("This webhook connection is disconnected.", code="connection_disconnected", status=410)
    if len(body) > MAX_BODY:
        raise DomainError("The payload is larger than 1 MiB.", code="payload_too_large", status=413)
    timestamp, signatures = _parse(header)
    tolerance = int(current_app.config["WEBHOOK_TOLERANCE_SECONDS"])
    if abs(time.time() - timestamp) > tolerance:
        raise Unauthorized(f"The signature timestamp is more than {tolerance} s away from now.",
                           code="timestamp_out_of_window")
    message = f"{timestamp}.".encode() + body
    expected = [hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
                for secret in accepted_secrets(connection.credentials, utcnow())]
    if not any(hmac.compare_digest(e, s) for e in expected for s in signatures):
        raise Unauthorized("The signature does not match the payload.", code="invalid_signature")
    payload = parse_payload(body)
    fingerprint = hashlib.sha256(f"{timestamp}.".encode() + body).hexdigest()
    delivery = WebhookDelivery(connection_id=connection.id, workspace_id=connection.workspace_id,
                               fingerprint=fingerprint, payload=payload)
    db.session.add(delivery)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("This delivery was already received.", code="replayed_delivery") from None
    from sync import service as sync_service

    # Pushed payloads are ingested by the connection's sync: queue one unless one is waiting (a
    # waiting run has not started reading, so it will read this delivery too), and wake the
    # workers, so the delivery is searchable seconds after it arrived.
    sync_service.enqueue_unless_pending(connection, mode="incremental", triggered_by="api")
    db.session.commit()
    sync_service.notify_workers()
    return delivery
