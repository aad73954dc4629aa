"""Members: an admin changes roles and removes members; the last admin can be neither demoted nor
removed, even by two admins acting at once; a removed member's personal connections go with them."""
import threading

import pytest
from sqlalchemy import func, select

from accounts import service as accounts
from accounts.models import Membership, User
from audit.models import AuditEvent
from connections.models import Connection
from core.errors import Conflict, Forbidden, NotFound, ValidationError
from core.extensions import db
from tests.factories import add_member, make_connection, make_workspace, user_actor_for


@pytest.fixture
def team(app, ctx):
    """Acme with its admin Ada and a member Mia; returns (workspace, ada's actor, mia)."""
    workspace, ada = make_workspace("Acme")
    mia = add_member(workspace, email="mia@example.com")
    return workspace, user_actor_for(workspace, ada), mia


def admins(workspace_id):
    return db.session.scalar(select(func.count()).select_from(Membership).where(
        Membership.workspace_id == workspace_id, Membership.role == "admin"))


def actions():
    return [a for a, in db.session.execute(select(AuditEvent.action).order_by(AuditEvent.id))]


def test_an_admin_changes_a_role_and_it_is_audited(team):
    workspace, ada, mia = team
    assert accounts.change_role(ada, mia.id, "admin").role == "admin"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.role_changed"))
    assert event.target_id == mia.id and event.details == {"from": "member", "to": "admin"}
    assert event.actor_id == ada.user_id
    accounts.change_role(ada, mia.id, "member")
    assert accounts.membership(mia.id, workspace.id).role == "member"


def test_the_last_admin_cannot_be_demoted_or_removed(team):
    workspace, ada, mia = team
    for attempt in (lambda: accounts.change_role(ada, ada.user_id, "member"),
                    lambda: accounts.remove_member(ada, ada.user_id)):
        with pytest.raises(Conflict) as refused:
            attempt()
        assert refused.value.code == "last_admin" and refused.value.status == 409
        assert "only admin" in refused.value.message
    db.session.rollback()
    assert accounts.membership(ada.user_id, workspace.id).role == "admin"
    assert "member.removed" not in actions() and "member.role_changed" not in actions()
    # With a second admin, either one may step down; then the other is the last.
    accounts.change_role(ada, mia.id, "admin")
    accounts.change_role(ada, ada.user_id, "member")
    mia_actor = user_actor_for(workspace, mia, role="admin")
    with pytest.raises(Conflict):
        accounts.remove_member(mia_actor, mia.id)


def test_removing_a_member_keeps_their_account_and_disconnects_only_their_personal_connections(team):
    workspace, ada, mia = team
    mailbox = make_connection(workspace.id, connector_type="gmail", name="Mia's mail", scope="personal",
                              owner_user_id=mia.id, credentials={"access_token": "ya29.secret"})
    shared = make_connection(workspace.id, name="Sales Pipedrive", created_by_user_id=mia.id)
    adas = make_connection(workspace.id, connector_type="gmail", name="Ada's mail", scope="personal",
                           owner_user_id=ada.user_id)
    removed = accounts.remove_member(ada, mia.id)
    assert removed["disconnected_connection_ids"] == [mailbox.id]
    db.session.expire_all()
    assert accounts.membership(mia.id, workspace.id) is None
    assert db.session.get(User, mia.id) is not None  # the account stays (other workspaces, history)
    assert db.session.get(Connection, mailbox.id).status == "disconnected"
    assert db.session.get(Connection, mailbox.id).credentials is None
    assert db.session.get(Connection, shared.id).status == "connected"
    assert db.session.get(Connection, adas.id).status == "connected"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.removed"))
    assert event.target_id == mia.id
    assert event.details == {"role": "member", "personal_connections_disconnected": [mailbox.id]}
    assert "connection.disconnected" in actions()


def test_only_admins_manage_members(team):
    workspace, ada, mia = team
    as_mia = user_actor_for(workspace, mia, role="member")
    for attempt in (lambda: accounts.change_role(as_mia, mia.id, "admin"),
                    lambda: accounts.remove_member(as_mia, ada.user_id)):
        with pytest.raises(Forbidden) as refused:
            attempt()
        assert refused.value.code == "admin_required"


def test_another_workspaces_member_is_not_found_and_a_bad_role_is_named(team):
    workspace, ada, mia = team
    other, stranger = make_workspace("Globex")
    for user_id in (stranger.id, "usr_nobody", None, 7):
        with pytest.raises(NotFound) as missing:
            accounts.change_role(ada, user_id, "admin")
        assert missing.value.code == "not_found"
        with pytest.raises(NotFound):
            accounts.remove_member(ada, user_id)
    with pytest.raises(ValidationError) as bad:
        accounts.change_role(ada, mia.id, "owner")
    assert bad.value.code == "invalid_role" and bad.value.details == {"field": "role"}
    assert accounts.membership(stranger.id, other.id).role == "admin"


def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, team, monkeypatch):
    """Both read "two admins" unless membership changes are serialized; then both would pass."""
    workspace, ada, mia = team
    accounts.change_role(ada, mia.id, "admin")
    ids = (workspace.id, ada.user_id, mia.id)
    db.session.remove()
    counted = threading.Barrier(2)
    count = accounts._admin_count

    def count_then_wait(workspace_id):
        found = count(workspace_id)
        try:
            counted.wait(timeout=2)  # with the lock, the other one is still waiting for it
        except threading.BrokenBarrierError:
            pass
        return found

    monkeypatch.setattr(accounts, "_admin_count", count_then_wait)
    outcomes = {}

    def demote(actor_id, target_id):
        with app.app_context():
            actor = user_actor_for(_workspace(ids[0]), db.session.get(User, actor_id))
            try:
                accounts.change_role(actor, target_id, "member")
                outcomes[actor_id] = "demoted"
            except Exception as exc:  # noqa: BLE001 - the loser's error is the point
                db.session.rollback()
                outcomes[actor_id] = getattr(exc, "code", type(exc).__name__)

    threads = [threading.Thread(target=demote, args=(ids[1], ids[2])),
               threading.Thread(target=demote, args=(ids[2], ids[1]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes.values()).count("demoted") == 1, outcomes
    assert "last_admin" in outcomes.values(), outcomes
    assert admins(ids[0]) == 1


def _workspace(workspace_id):
    from accounts.models import Workspace

    return db.session.get(Workspace, workspace_id)
