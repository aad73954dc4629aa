"""The SOC 2 report: every figure from the stored events of a fixture workspace whose events are
known, in the JSON answer and in the PDF's text."""
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.fernet import Fernet
from pypdf import PdfReader
from sqlalchemy import text

from accounts.models import ApiKey
from connections.models import Connection
from core.actor import Actor, system_actor
from core.extensions import db
from core.vault import fingerprint
from tests.audit.helpers import entry, key_actor, member_actor
from tests.factories import Api, add_member, make_api_key, make_workspace

FEB = datetime(2026, 2, 1, tzinfo=timezone.utc)
OLD_KEY = Fernet.generate_key().decode()


def day(n: int, hour: int = 10) -> datetime:
    return FEB + timedelta(days=n - 1, hours=hour)


def refused(user, reason, at, **details):
    """A refused sign-in (outside any workspace, as accounts.authenticate records it)."""
    anonymous = Actor(type="anonymous", id=user.id if user else None, label=user.email if user else "who@x.test",
                      workspace_id=None)
    entry(anonymous, "auth.sign_in", outcome="failure", details={"reason": reason, **details}, at=at)


@pytest.fixture
def app_config(app_config, fernet_keys):
    # A newer primary key, and the tests' original key still able to decrypt (a rotation in progress).
    return {**app_config, "FERNET_KEYS": [fernet_keys[0], OLD_KEY]}


@pytest.fixture
def known(app, client):
    """Acme's February 2026, event by event (and a few events that must not count)."""
    with app.app_context():
        acme, alice = make_workspace("Acme")
        bob = add_member(acme, email="bob@acme.test")
        carol = add_member(acme, email="carol@acme.test", role="admin")
        globex, gus = make_workspace("Globex")
        key = make_api_key(acme, alice, name="auditor")
        db.session.execute(text("DELETE FROM audit_events"))
        db.session.execute(text("DELETE FROM audit_chain_heads"))
        bot = ApiKey(workspace_id=acme.id, name="nightly bot", prefix="trb_x", key_hash="h" * 64, scopes=["query"],
                     created_by_user_id=alice.id, created_at=day(3), last_used_at=day(20))
        gone = ApiKey(workspace_id=acme.id, name="old bot", prefix="trb_y", key_hash="g" * 64,
                      scopes=["connections:read", "sync"], created_by_user_id=carol.id, created_at=day(4),
                      revoked_at=day(9))
        db.session.add_all([bot, gone])
        db.session.flush()
        # Secrets at rest: one under the primary key (the ORM encrypts), one still under the older key.
        crm, old = (Connection(workspace_id=acme.id, connector_type="pipedrive", name=name, status="connected",
                               settings={}, credentials={"api_key": "k"}) for name in ("CRM", "Old"))
        db.session.add_all([crm, old])
        db.session.commit()
        stale = Fernet(OLD_KEY.encode()).encrypt(b'{"api_key": "old"}').decode()
        db.session.execute(text("UPDATE connections SET credentials = :c WHERE id = :id"), {"c": stale, "id": old.id})
        db.session.commit()

        a, b, c = (member_actor(acme.id, u) for u in (alice, bob, carol))
        robot = key_actor(acme.id, bot.id, "nightly bot", scopes=["query"])
        for n, target in ((2, bob.id), (2, carol.id)):
            entry(a, "member.added", target_type="user", target_id=target, details={"role": "member"}, at=day(n))
        entry(a, "member.role_changed", target_type="user", target_id=carol.id, details={"from": "member",
                                                                                           "to": "admin"}, at=day(5))
        entry(c, "member.removed", target_type="user", target_id="usr_dave000000000000", at=day(6))
        entry(a, "api_key.created", target_id=bot.id, at=day(3))
        entry(c, "api_key.created", target_id=gone.id, at=day(4))
        entry(c, "api_key.revoked", target_id=gone.id, at=day(9))
        for actor, n in ((a, 7), (a, 8), (b, 8)):
            entry(actor, "auth.sign_in", at=day(n))
        entry(b, "auth.sign_out", at=day(8, 12))
        for n in range(4):
            refused(bob, "bad_credentials", day(11, n))
        refused(bob, "bad_credentials", day(11, 5), locked=True)
        refused(bob, "locked_out", day(11, 6))
        refused(bob, "locked_out", day(11, 7))
        refused(alice, "bad_credentials", day(12))
        refused(None, "bad_credentials", day(12))  # an unknown e-mail: nobody's
        refused(gus, "bad_credentials", day(12))  # Globex's admin: not Acme's
        for action, count in (("connection.connected", 3), ("connection.disconnected", 1),
                              ("connection.reconnected", 1), ("connection.updated", 2),
                              ("connection.secret_rotated", 1), ("sync.cadence_updated", 1),
                              ("sync.schedule_updated", 2)):
            for n in range(count):
                entry(a, action, target_id=f"conn_{action[11:14]}{n}", at=day(13 + n))
        for actor, count in ((a, 3), (robot, 5)):
            for n in range(count):
                entry(actor, "query.executed", target_type="query", target_id=f"qry_{n}", at=day(15, n))
        entry(a, "document.deleted", target_id="doc_1", at=day(16))
        entry(robot, "document.deleted", target_id="doc_2", at=day(16))
        entry(robot, "pipeline.sync", target_id="vs_1", details={"documents_deleted": 7}, at=day(17))
        entry(a, "vector_store.deleted", target_id="vs_2", details={"documents_deleted": 4}, at=day(18))
        entry(a, "audit.exported", details={"format": "csv"}, at=day(19))
        entry(a, "access.override", target_type="query", at=day(19))
        entry(system_actor(), "vault.keys_rotated", details={"primary_key": fingerprint(app.config["FERNET_KEYS"][0])},
              at=day(10))
        # Outside the period, or another workspace's: none of these count.
        for n in range(10):
            entry(a, "query.executed", at=datetime(2026, 1, 15, tzinfo=timezone.utc) + timedelta(minutes=n))
        entry(a, "connection.connected", at=datetime(2026, 3, 1, 0, 0, 1, tzinfo=timezone.utc))
        entry(system_actor(), "vault.keys_rotated", details={"primary_key": "0123456789abcdef"},
              at=datetime(2026, 1, 2, tzinfo=timezone.utc))
        g = member_actor(globex.id, gus)
        for n in range(4):
            entry(g, "query.executed", at=day(15))
        entry(g, "connection.connected", at=day(15))
        return {"api": Api(client, key), "acme": acme.id, "alice": alice.id, "bob": bob.id, "carol": carol.id,
                "bot": bot.id, "gone": gone.id, "primary": fingerprint(app.config["FERNET_KEYS"][0]),
                "older": fingerprint(OLD_KEY)}


PERIOD = {"start_date": "2026-02-01", "end_date": "2026-02-28"}


def test_every_figure_comes_from_the_stored_events(known):
    report = known["api"].get("/api/v1/audit-logs/soc2", query_string=PERIOD).json
    assert report["period"] == {"start": "2026-02-01T00:00:00Z", "end": "2026-02-28T23:59:59.999999Z"}

    access = report["access"]
    assert [(m["email"], m["role"]) for m in access["members"]] == [
        ("acme-admin@example.com", "admin"), ("bob@acme.test", "member"), ("carol@acme.test", "admin")]
    assert (access["member_count"], access["admin_count"]) == (3, 2)
    assert (access["members_added"], access["members_removed"], access["role_changes"]) == (2, 1, 1)
    assert [e["action"] for e in access["membership_changes"]] == ["member.added", "member.added",
                                                                   "member.role_changed", "member.removed"]
    keys = {k["name"]: k for k in access["api_keys"]}
    assert keys["nightly bot"] == {**keys["nightly bot"], "scopes": ["query"], "revoked_at": None,
                                   "created_by": {"id": known["alice"], "name": "Acme admin"},
                                   "last_used_at": "2026-02-20T10:00:00Z"}
    assert keys["old bot"]["revoked_at"] == "2026-02-09T10:00:00Z" and keys["old bot"]["created_by"]["id"] == known["carol"]
    assert (access["api_keys_active"], access["api_keys_created"], access["api_keys_revoked"]) == (2, 2, 1)

    assert report["authentication"] == {
        "sign_ins": 3, "sign_outs": 1, "failed_sign_ins": 6, "lockouts": 1, "refused_while_locked": 2,
        "failures_by_account": [{"account": "bob@acme.test", "failures": 7},
                                {"account": "acme-admin@example.com", "failures": 1}]}

    changes = report["change_management"]
    assert {k: v for k, v in changes.items() if k != "changes"} == {
        "connections_added": 3, "connections_removed": 1, "connections_reconnected": 1,
        "connection_settings_changed": 2, "webhook_secret_rotations": 1, "encryption_key_rotations": 1,
        "cadence_changes": 1, "schedule_changes": 2}
    assert len(changes["changes"]) == 11

    data = report["data_access"]
    assert data["queries"] == 8
    assert [(q["actor"], q["queries"]) for q in data["queries_by_actor"]] == [("nightly bot", 5),
                                                                               ("acme-admin@example.com", 3)]
    assert (data["documents_deleted"], data["documents_deleted_one_by_one"], data["documents_deleted_by_pipeline_sync"],
            data["documents_deleted_with_vector_stores"]) == (13, 2, 7, 4)
    assert (data["exports"], data["exports_by_format"], data["access_overrides"]) == (1, {"csv": 1}, 1)

    crypto = report["encryption_at_rest"]
    assert crypto["keys_in_use"] == 2 and crypto["secrets_under_older_keys"] == 1
    assert [(k["fingerprint"], k["primary"], k["secrets"]) for k in crypto["keys"]] == [
        (known["primary"], True, 1), (known["older"], False, 1)]
    assert crypto["keys"][0]["became_primary_at"] == "2026-02-10T10:00:00Z"
    assert crypto["last_rotation_at"] == "2026-02-10T10:00:00Z" and crypto["rotations_in_period"] == 1
    assert crypto["keys"][1]["in_use_since"] == crypto["keys"][1]["oldest_secret_encrypted_at"] is not None

    chain_result = report["audit_chain"]
    assert chain_result["intact"] and chain_result["entries_checked"] == 47
    assert OLD_KEY not in str(report)


def _pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_the_pdf_carries_the_same_figures(known):
    api = known["api"]
    by_accept = api.get("/api/v1/audit-logs/soc2", query_string=PERIOD, headers={"Accept": "application/pdf"})
    by_format = api.get("/api/v1/audit-logs/soc2", query_string={**PERIOD, "format": "pdf"})
    for response in (by_accept, by_format):
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="soc2-')
    words = _pdf_text(by_format.data)
    for figure in ("Members 3", "Admins 2", "Role changes in the period 1", "Active API keys 2",
                   "Successful sign-ins 3", "Failed sign-ins (wrong password) 6", "Accounts locked by throttling 1",
                   "Sign-ins refused while locked 2", "bob@acme.test 7", "Connections added 3",
                   "Connections removed 1", "Connections reconnected 1", "Encryption key rotations 1",
                   "Sync cadence changes 1", "Queries 8", "nightly bot api_key 5", "Documents deleted 13",
                   "Audit log exports 1", "Keys in use 2", "Secrets still under older keys 1",
                   f"{known['primary']} yes 1", "Hash chain intact",
                   # the 47 entries above and the audit.exported entry of the first request
                   "Entries verified 48", "SOC 2 report: Acme"):
        assert figure in words, f"{figure!r} not in the PDF's text:\n{words}"


def test_each_export_is_itself_audited(app, known):
    api = known["api"]
    api.get("/api/v1/audit-logs/soc2", query_string=PERIOD)
    api.get("/api/v1/audit-logs/soc2", query_string={**PERIOD, "format": "pdf"})
    exports = api.get("/api/v1/audit-logs?action=audit.exported&actor=auditor").json["entries"]
    assert [e["details"]["format"] for e in exports] == ["soc2_pdf", "soc2_json"]
    assert exports[0]["details"]["start"] == "2026-02-01T00:00:00Z"


@pytest.mark.parametrize("query, status, code", [
    ({"end_date": "2026-02-28"}, 422, "missing_parameter"),
    ({"start_date": "2026-02-01"}, 422, "missing_parameter"),
    ({"start_date": "feb", "end_date": "2026-02-28"}, 422, "invalid_parameter"),
    ({"start_date": "2026-03-01", "end_date": "2026-02-28"}, 422, "invalid_date_range"),
    ({**PERIOD, "format": "docx"}, 422, "invalid_parameter"),
])
def test_a_bad_period_is_refused(known, query, status, code):
    response = known["api"].get("/api/v1/audit-logs/soc2", query_string=query)
    assert response.status_code == status and response.json["error"]["code"] == code
