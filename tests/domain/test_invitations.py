"""Invitations: single use, expiry, revocation, resend, joining with a new or an existing account,
and delivery over SMTP to a local server (aiosmtpd) when one is configured."""
import re
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from accounts import invitations
from accounts.models import Invitation, Membership, User
from audit.models import AuditEvent
from core.errors import Conflict, Unauthorized, ValidationError
from core.extensions import db
from core.timeutil import utcnow
from tests.factories import PASSWORD, make_workspace, user_actor_for

BASE = "http://tributary.test/"


@pytest.fixture
def acme(app, ctx):
    ws, admin = make_workspace("Acme")
    return ws, admin, user_actor_for(ws, admin)


def token_of(url: str) -> str:
    return url.rsplit("/invitations/", 1)[1]


def test_a_new_account_joins_once(acme):
    ws, _admin, actor = acme
    invitation, token, sent = invitations.invite(actor, email="bob@example.com", role="admin", base_url=BASE)
    assert sent is False
    user, membership = invitations.accept(token, name="Bob", password="a long password")
    assert (user.email, membership.role, membership.workspace_id) == ("bob@example.com", "admin", ws.id)
    assert user.last_login_at is not None
    with pytest.raises(Unauthorized) as used:
        invitations.accept(token, name="Bob", password="a long password")
    assert used.value.code == "invitation_invalid"
    assert invitations.pending(ws.id) == []
    events = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events[-3:] == ["invitation.created", "invitation.accepted", "member.added"]


def test_a_weak_password_leaves_the_invitation_usable(acme):
    _ws, _admin, actor = acme
    _invitation, token, _sent = invitations.invite(actor, email="bob@example.com", base_url=BASE)
    with pytest.raises(ValidationError) as weak:
        invitations.accept(token, name="Bob", password="short")
    assert weak.value.code == "weak_password"
    db.session.rollback()
    assert db.session.scalar(select(User).where(User.email == "bob@example.com")) is None
    invitations.accept(token, name="Bob", password="a long password")


def test_an_existing_account_signs_in_to_join(acme):
    ws, _admin, actor = acme
    _other, someone = make_workspace("Globex", email="carol@example.com")
    _invitation, token, _sent = invitations.invite(actor, email="Carol@example.com", base_url=BASE)
    with pytest.raises(Unauthorized) as wrong:
        invitations.accept(token, password="not the password")
    assert wrong.value.code == "invalid_login"
    db.session.rollback()
    # A failed password through an invitation is a failed sign-in: audited and throttled alike.
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in",
                                                           AuditEvent.outcome == "failure")).all()
    assert [e.actor_label for e in failures] == ["carol@example.com"]
    user, membership = invitations.accept(token, password=PASSWORD)
    assert user.id == someone.id and membership.workspace_id == ws.id and membership.role == "member"


def test_expired_revoked_and_replaced_links_are_invalid(app, acme):
    ws, _admin, actor = acme
    app.config["INVITATION_TTL_DAYS"] = 7
    expired, old_token, _ = invitations.invite(actor, email="a@example.com", base_url=BASE)
    assert expired.expires_at - expired.created_at == timedelta(days=7)
    expired.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    revoked, revoked_token, _ = invitations.invite(actor, email="b@example.com", base_url=BASE)
    invitations.revoke(actor, revoked.id)
    resent, first_token, _ = invitations.invite(actor, email="c@example.com", base_url=BASE)
    _same, second_token, _ = invitations.resend(actor, resent.id, base_url=BASE)
    for token in (old_token, revoked_token, first_token, "", "nonsense"):
        with pytest.raises(Unauthorized) as invalid:
            invitations.find(token)
        assert invalid.value.code == "invitation_invalid"
    assert invitations.find(second_token).id == resent.id
    with pytest.raises(Conflict) as gone:
        invitations.resend(actor, revoked.id, base_url=BASE)
    assert gone.value.code == "invitation_not_pending"
    assert [i.email for i in invitations.pending(ws.id)] == ["c@example.com"]


def test_only_admins_invite(acme):
    ws, _admin, _actor = acme
    member = user_actor_for(ws, _admin, role="member")
    with pytest.raises(Exception) as refused:
        invitations.invite(member, email="x@example.com", base_url=BASE)
    assert refused.value.code == "admin_required"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp_server():
    import socket

    with socket.socket() as probe:  # aiosmtpd's controller needs its port up front (it connects to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, inbox
    controller.stop()


def test_delivered_over_smtp_when_configured(app, acme, smtp_server):
    controller, inbox = smtp_server
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port,
                      SMTP_TLS="none", SMTP_FROM="Tributary <noreply@tributary.test>")
    ws, _admin, actor = acme
    invitation, token, sent = invitations.invite(actor, email="dan@example.com", role="member", base_url=BASE)
    assert sent is True and invitation.send_count == 1 and invitation.last_sent_at is not None
    (recipients, message), = inbox.messages
    assert recipients == ["dan@example.com"] and "From: Tributary <noreply@tributary.test>" in message
    assert "Subject: You are invited to Acme on Tributary" in message
    link = re.search(r"http://tributary\.test/invitations/\S+", message).group(0)
    assert token_of(link) == token
    _same, resent_token, sent = invitations.resend(actor, invitation.id, base_url=BASE)
    assert sent is True and len(inbox.messages) == 2 and resent_token in inbox.messages[1][1]
    assert db.session.get(Invitation, invitation.id).send_count == 2


def test_an_unreachable_mail_server_falls_back_to_the_link(app, acme):
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=1, SMTP_TLS="none", SMTP_TIMEOUT_SECONDS=2)
    _ws, _admin, actor = acme
    invitation, _token, sent = invitations.invite(actor, email="eve@example.com", base_url=BASE)
    assert sent is False and invitation.last_sent_at is None
    assert db.session.get(Invitation, invitation.id) is not None


def test_two_accepts_of_one_link_make_one_membership(acme):
    ws, _admin, actor = acme
    _invitation, token, _ = invitations.invite(actor, email="fay@example.com", base_url=BASE)
    invitations.accept(token, name="Fay", password="a long password")
    with pytest.raises(Unauthorized):
        invitations.accept(token, name="Fay", password="a long password")
    assert len(db.session.scalars(select(Membership).where(Membership.workspace_id == ws.id)).all()) == 2


def _expire(invitation, ago=timedelta(hours=1)):
    invitation.expires_at = utcnow() - ago
    db.session.commit()


def _events(action):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_housekeeping_marks_expired_invitations_once_and_audits_it(app, acme, monkeypatch):
    from audit import chain
    from sync import scheduler

    ws, _admin, actor = acme
    lapsed, _t1, _ = invitations.invite(actor, email="lapsed@example.com", role="admin", base_url=BASE)
    live, _t2, _ = invitations.invite(actor, email="live@example.com", base_url=BASE)
    used, used_token, _ = invitations.invite(actor, email="used@example.com", base_url=BASE)
    invitations.accept(used_token, name="Used", password="a long password")
    revoked, _t3, _ = invitations.invite(actor, email="revoked@example.com", base_url=BASE)
    invitations.revoke(actor, revoked.id)
    for invitation in (lapsed, used, revoked):
        _expire(invitation)
    monkeypatch.setattr(scheduler, "_app", app)

    scheduler.housekeeping()
    scheduler.housekeeping()  # again: nothing more to mark

    db.session.expire_all()
    assert db.session.get(Invitation, lapsed.id).expired_at is not None
    assert all(db.session.get(Invitation, i.id).expired_at is None for i in (live, used, revoked))
    [event] = _events("invitation.expired")
    assert (event.workspace_id, event.actor_type, event.target_id) == (ws.id, "system", lapsed.id)
    assert event.details == {"email": "lapsed@example.com", "role": "admin",
                             "expires_at": event.details["expires_at"]}
    assert chain.verify(ws.id, full=True).intact  # recorded in the workspace's chain
    # The page's list: the pending one, then the expired one; the API's list: pending only.
    assert [(i.email, invitations.is_pending(i)) for i in invitations.listed(ws.id)] == [
        ("live@example.com", True), ("lapsed@example.com", False)]
    assert [i.email for i in invitations.pending(ws.id)] == ["live@example.com"]


def test_an_expired_invitation_is_listed_for_thirty_days(acme):
    ws, _admin, actor = acme
    recent, _t1, _ = invitations.invite(actor, email="recent@example.com", base_url=BASE)
    old, _t2, _ = invitations.invite(actor, email="old@example.com", base_url=BASE)
    _expire(recent, timedelta(days=29))
    _expire(old, timedelta(days=31))
    assert [i.email for i in invitations.listed(ws.id)] == ["recent@example.com"]


def test_resend_re_issues_an_expired_invitation(acme):
    ws, _admin, actor = acme
    invitation, old_token, _ = invitations.invite(actor, email="late@example.com", role="admin", base_url=BASE)
    _expire(invitation)
    assert invitations.sweep_expired() == 1
    with pytest.raises(Unauthorized):
        invitations.find(old_token)

    same, new_token, sent = invitations.resend(actor, invitation.id, base_url=BASE)
    assert same.id == invitation.id and sent is False
    assert same.expired_at is None and same.expires_at > utcnow() + timedelta(days=6)
    assert [i.email for i in invitations.pending(ws.id)] == ["late@example.com"]
    [resent] = _events("invitation.resent")
    assert resent.details == {"email": "late@example.com", "delivery": "link", "reissued": True}
    with pytest.raises(Unauthorized):
        invitations.find(old_token)  # the lapsed link stays dead
    user, membership = invitations.accept(new_token, name="Late", password="a long password")
    assert (membership.role, membership.workspace_id) == ("admin", ws.id)
    assert invitations.sweep_expired() == 0  # accepted: never marked


def test_an_expired_invitation_not_yet_swept_is_re_issued_too(acme):
    ws, _admin, actor = acme
    invitation, _token, _ = invitations.invite(actor, email="late@example.com", base_url=BASE)
    _expire(invitation)
    same, token, _ = invitations.resend(actor, invitation.id, base_url=BASE)
    assert invitations.find(token).id == invitation.id
    assert invitations.sweep_expired() == 0 and _events("invitation.expired") == []


def test_removing_or_replacing_an_expired_invitation(acme):
    ws, _admin, actor = acme
    removed, _t1, _ = invitations.invite(actor, email="gone@example.com", base_url=BASE)
    replaced, _t2, _ = invitations.invite(actor, email="again@example.com", base_url=BASE)
    _expire(removed)
    _expire(replaced)
    invitations.sweep_expired()

    invitations.revoke(actor, removed.id)
    fresh, token, _ = invitations.invite(actor, email="again@example.com", base_url=BASE)
    assert [i.id for i in invitations.listed(ws.id)] == [fresh.id]  # one row per address
    assert [(e.target_id, e.details.get("reason")) for e in _events("invitation.revoked")] == [
        (removed.id, "expired"), (replaced.id, "replaced")]
    with pytest.raises(Conflict) as gone:
        invitations.resend(actor, removed.id, base_url=BASE)
    assert gone.value.code == "invitation_not_pending"
    assert invitations.find(token).id == fresh.id


def test_a_resend_between_the_sweeps_read_and_its_write_is_not_marked(acme, monkeypatch):
    """The marking UPDATE checks the row again: an invitation re-issued after the sweep read it
    is left pending and no ``invitation.expired`` is recorded for it."""
    ws, _admin, actor = acme
    invitation, _token, _ = invitations.invite(actor, email="race@example.com", base_url=BASE)
    _expire(invitation)
    real_execute = db.session.execute
    state = {"resent": False}

    def execute(statement, *args, **kwargs):
        if not state["resent"] and getattr(statement, "is_dml", False) and getattr(statement, "table", None) is not None \
                and statement.table.name == "invitations":
            state["resent"] = True
            db.session.get(Invitation, invitation.id).expires_at = utcnow() + timedelta(days=7)
            db.session.flush()
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", execute)
    assert invitations.sweep_expired() == 0
    monkeypatch.undo()
    assert state["resent"] and db.session.get(Invitation, invitation.id).expired_at is None
    assert _events("invitation.expired") == []
