"""First-run setup, sign-in throttling, audit events of sign-ins."""
import pytest
from sqlalchemy import select

from accounts import service as accounts
from audit.models import AuditEvent
from core.errors import Conflict, TooManyRequests, Unauthorized, ValidationError
from core.extensions import db


def test_setup_creates_workspace_admin_and_audit_events(app, ctx):
    assert accounts.needs_setup()
    workspace, user = accounts.setup(workspace_name="Acme", email="Ada@Example.com", name="Ada",
                                     password="long enough pw", client_address="10.0.0.1")
    assert user.email == "ada@example.com" and user.is_platform_admin
    assert user.password_hash != "long enough pw"
    assert accounts.membership(user.id, workspace.id).role == "admin"
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"workspace.created", "member.added"} <= actions
    with pytest.raises(Conflict):
        accounts.setup(workspace_name="Again", email="b@example.com", name="B", password="long enough pw")


@pytest.mark.parametrize("fields,code", [
    ({"email": "nope"}, "invalid_email"),
    ({"password": "short"}, "weak_password"),
    ({"workspace_name": " "}, "invalid_workspace_name"),
])
def test_setup_validation(app, ctx, fields, code):
    params = {"workspace_name": "Acme", "email": "a@example.com", "name": "A", "password": "long enough pw", **fields}
    with pytest.raises(ValidationError) as info:
        accounts.setup(**params)
    assert info.value.code == code
    assert accounts.needs_setup()  # nothing half-written


def test_sign_in_is_throttled_after_repeated_failures(app, ctx):
    accounts.setup(workspace_name="Acme", email="a@example.com", name="A", password="long enough pw")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        with pytest.raises(Unauthorized):
            accounts.authenticate("a@example.com", "wrong password")
    with pytest.raises(TooManyRequests) as info:
        accounts.authenticate("a@example.com", "long enough pw")  # even the right password waits
    assert info.value.code == "too_many_attempts" and info.value.retry_after > 0
    failures = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in",
                                                           AuditEvent.outcome == "failure")
                                  .order_by(AuditEvent.id)).all()
    # Each wrong password, the last one locking the account, then the attempt refused while locked.
    reasons = [(e.details["reason"], e.details.get("locked", False)) for e in failures]
    assert reasons == [("bad_credentials", False)] * (app.config["LOGIN_MAX_FAILURES"] - 1) + [
        ("bad_credentials", True), ("locked_out", False)]
    assert all("wrong password" not in str(e.details) for e in failures)


def test_successful_sign_in_resets_the_counter_and_is_audited(app, ctx):
    accounts.setup(workspace_name="Acme", email="a@example.com", name="A", password="long enough pw")
    with pytest.raises(Unauthorized):
        accounts.authenticate("a@example.com", "wrong password")
    user = accounts.authenticate("A@example.com", "long enough pw")
    assert user.last_login_at is not None
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in",
                                                        AuditEvent.outcome == "success")).one()
    assert event.actor_id == user.id and event.workspace_id is not None


def test_unknown_accounts_are_throttled_too(app, ctx):
    accounts.setup(workspace_name="Acme", email="a@example.com", name="A", password="long enough pw")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        with pytest.raises(Unauthorized):
            accounts.authenticate("ghost@example.com", "x")
    with pytest.raises(TooManyRequests):
        accounts.authenticate("ghost@example.com", "x")


def test_a_user_can_belong_to_several_workspaces(app, ctx):
    workspace, user = accounts.setup(workspace_name="Acme", email="a@example.com", name="A", password="long enough pw")
    actor = accounts.user_actor(user, workspace.id, "admin")
    other = accounts.create_workspace(actor, "Side project")
    assert {m.workspace_id for m in accounts.memberships_of(user.id)} == {workspace.id, other.id}
