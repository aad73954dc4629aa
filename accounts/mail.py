"""Outgoing mail (invitations), over SMTP as the operator configured it (README "Configuration").

``SMTP_TLS``: ``starttls`` upgrades a plain connection (port 587), ``ssl`` is TLS from the first
byte (port 465), ``none`` sends in clear (a relay on a trusted network, or a test server).
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app

from core.timeutil import isoformat


class MailError(Exception):
    """The mail server could not be reached or refused the message."""


def configured(config=None) -> bool:
    config = config if config is not None else current_app.config
    return bool(config.get("SMTP_HOST"))


def _connect(config) -> smtplib.SMTP:
    host, port = config["SMTP_HOST"], int(config.get("SMTP_PORT") or 587)
    timeout = float(config.get("SMTP_TIMEOUT_SECONDS") or 10)
    mode = (config.get("SMTP_TLS") or "starttls").lower()
    if mode not in ("starttls", "ssl", "none"):
        raise MailError(f"SMTP_TLS is starttls, ssl or none, not {mode!r}")
    if mode == "ssl":
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if mode == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if config.get("SMTP_USERNAME"):
        smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
    return smtp


def send(message: EmailMessage, config=None) -> None:
    config = config if config is not None else current_app.config
    message["From"] = config.get("SMTP_FROM") or f"Tributary <tributary@{config['SMTP_HOST']}>"
    try:
        with _connect(config) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(str(exc)) from exc


def send_invitation(*, to: str, workspace: str, role: str, url: str, inviter: str, expires_at) -> None:
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = f"You are invited to {workspace} on Tributary"
    message.set_content(
        f"{inviter} invited you to join the workspace {workspace} on Tributary as {'an admin' if role == 'admin' else 'a member'}.\n\n"
        f"Open this link to accept (it works once, until {isoformat(expires_at)}):\n\n{url}\n\n"
        "If you did not expect this, ignore this message.\n")
    send(message)
