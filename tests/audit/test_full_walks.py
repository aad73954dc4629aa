"""Full walks of the audit chain: requested through the API or the console, scheduled every
AUDIT_FULL_VERIFY_DAYS, run by the scheduler's leader (never in a request), recorded in the chain
(audit.verified / audit.chain_broken) and reported beside the incremental answer, in the SOC 2
report, and on the Audit log page. And ``flask audit resign`` after a SECRET_KEY rotation."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import Membership
from audit import chain
from audit.models import AuditCheckpoint, AuditEvent
from core.extensions import db
from core.timeutil import utcnow
from sync import scheduler
from tests.audit.helpers import edit_entry, entry, member_actor, rows_by_place
from tests.console.conftest import sign_in
from tests.factories import Api, add_member, make_api_key, make_workspace

VERIFY = "/api/v1/audit-logs/verify"


@pytest.fixture
def people(app, acme):
    """Acme's admin, an admin key, a key without the admin scope, a member; Globex with its own admin key."""
    from accounts.models import Workspace

    workspace = db.session.get(Workspace, acme)
    admin = db.session.scalar(select(Membership).where(Membership.workspace_id == acme)).user
    member = add_member(workspace, email="mia@acme.test")
    globex, gus = make_workspace("Globex")
    return {"admin_key": make_api_key(workspace, admin, name="auditor"),
            "reader_key": make_api_key(workspace, admin, scopes=["query"], name="reader"),
            "globex_key": make_api_key(globex, gus, name="globex admin"),
            "admin": admin.id, "member": member.id, "globex": globex.id}


def _actions(workspace_id, action):
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.workspace_id == workspace_id,
                                                            AuditEvent.action == action).order_by(AuditEvent.seq)))


def _leader_job(app, monkeypatch):
    """Run the leader's job once, as APScheduler would every minute."""
    monkeypatch.setattr(scheduler, "_app", app)
    scheduler.audit_full_walks()
    db.session.rollback()


def test_an_edit_before_the_checkpoint_shows_in_the_api_after_a_requested_full_walk(app, client, acme, people,
                                                                                     monkeypatch):
    api = Api(client, people["admin_key"])
    edit_entry(acme, 3)  # before the checkpoint at place 6: the incremental answer cannot see it
    answer = api.get(VERIFY).json
    assert (answer["intact"], answer["mode"], answer["verified_from_seq"]) == (True, "incremental", 6)
    assert answer["full_verification"] == {"last": None, "requested": None, "cadence_days": 7.0,
                                           "next_scheduled_at": answer["full_verification"]["next_scheduled_at"]}

    asked = api.post("/api/v1/audit-logs/verify/full")
    assert asked.status_code == 202, asked.json
    assert asked.headers["Location"] == VERIFY
    waiting = asked.json["requested"]
    assert waiting["requested_by"] == "auditor" and waiting["runs_after"] == waiting["requested_at"]
    # Asking again while it waits answers the same request and records nothing new.
    again = api.post("/api/v1/audit-logs/verify/full")
    assert again.status_code == 202 and again.json["requested"]["entry_id"] == waiting["entry_id"]
    assert len(_actions(acme, "audit.verification_requested")) == 1
    # Nothing walked inside the request.
    assert api.get(VERIFY).json["full_verification"]["last"] is None

    _leader_job(app, monkeypatch)

    answer = api.get(VERIFY).json
    assert answer["intact"] and answer["mode"] == "incremental"
    status = answer["full_verification"]
    last = status["last"]
    assert (last["intact"], last["trigger"], last["first_bad_seq"], last["first_bad_entry_id"]) == (
        False, "request", 3, rows_by_place(acme)[3].id)
    assert "altered" in last["reason"] and last["entries_checked"] == 2 and status["requested"] is None
    broken = api.get("/api/v1/audit-logs", query_string={"action": "audit.chain_broken"}).json["entries"]
    assert [(e["id"], e["outcome"], e["actor"]["type"], e["details"]["first_bad_seq"]) for e in broken] == [
        (last["entry_id"], "failure", "system", 3)]
    # The job has nothing left to do: no second walk.
    _leader_job(app, monkeypatch)
    assert len(_actions(acme, "audit.chain_broken")) == 1


def test_requests_wait_for_the_minimum_interval_after_the_previous_walk(app, client, acme, people, monkeypatch):
    api = Api(client, people["admin_key"])
    app.config["AUDIT_FULL_VERIFY_MIN_INTERVAL_MINUTES"] = 60
    chain.full_walk(acme, "cli")
    db.session.rollback()
    waiting = api.post("/api/v1/audit-logs/verify/full").json
    finished = chain._instant(waiting["last"]["finished_at"])
    assert chain._instant(waiting["requested"]["runs_after"]) == finished + timedelta(minutes=60)
    assert chain.due_full_walks(finished + timedelta(minutes=59)) == {}
    assert chain.due_full_walks(finished + timedelta(minutes=61)) == {acme: "request"}
    walked = chain.run_due_full_walks(finished + timedelta(minutes=61))
    assert walked[acme].intact
    last = api.get(VERIFY).json["full_verification"]
    assert (last["last"]["trigger"], last["last"]["intact"], last["requested"]) == ("request", True, None)


def test_full_walks_are_scheduled_every_audit_full_verify_days(app, acme):
    app.config["AUDIT_FULL_VERIFY_DAYS"] = 7
    now = utcnow()
    # Before the first walk, the cadence counts from the chain's oldest entry.
    assert chain.due_full_walks(now + timedelta(days=6)) == {}
    assert chain.due_full_walks(now + timedelta(days=7, minutes=1)) == {acme: "schedule"}
    walked = chain.run_due_full_walks(now + timedelta(days=7, minutes=1))
    assert list(walked) == [acme] and walked[acme].intact and walked[acme].entries_checked == 9
    [verified] = _actions(acme, "audit.verified")
    assert verified.outcome == "success" and verified.details == {
        **verified.details, "mode": "full", "trigger": "schedule", "entries_checked": 9, "head_seq": 9,
        "verified_from_seq": 0, "checkpoint_seq": 6}
    status = chain.full_walk_status(acme)
    assert status["next_scheduled_at"] == chain.isoformat(verified.created_at + timedelta(days=7))
    assert chain.due_full_walks(verified.created_at + timedelta(days=6)) == {}
    assert chain.due_full_walks(verified.created_at + timedelta(days=7)) == {acme: "schedule"}
    # 0: never scheduled (requests and the CLI still walk).
    app.config["AUDIT_FULL_VERIFY_DAYS"] = 0
    assert chain.due_full_walks(now + timedelta(days=400)) == {}
    assert chain.full_walk_status(acme)["next_scheduled_at"] is None


def test_only_admins_request_a_full_walk_of_their_own_workspace(app, client, acme, people):
    reader = Api(client, people["reader_key"]).post("/api/v1/audit-logs/verify/full")
    assert reader.status_code == 403
    theirs = Api(client, people["globex_key"]).post("/api/v1/audit-logs/verify/full")
    assert theirs.status_code == 202
    assert chain.full_walk_status(acme)["requested"] is None
    assert chain.full_walk_status(people["globex"])["requested"] is not None
    console = app.test_client()
    sign_in(console, people["member"], acme)
    assert console.post("/audit-log/verify").status_code == 403
    page = console.get("/audit-log").get_data(as_text=True)
    assert 'id="audit-chain"' not in page
    assert chain.full_walk_status(acme)["requested"] is None


def test_the_console_shows_the_latest_full_walk_and_requests_one(app, acme, people, monkeypatch):
    console = app.test_client()
    sign_in(console, people["admin"], acme)
    page = console.get("/audit-log").get_data(as_text=True)
    assert "none yet" in page and 'id="audit-verify-full"' in page
    queued = console.post("/audit-log/verify", follow_redirects=True).get_data(as_text=True)
    assert "A full verification of the audit chain is queued" in queued and "waits for the scheduler" in queued
    assert 'id="audit-verify-full"' not in queued  # one request at a time
    edit_entry(acme, 2)
    _leader_job(app, monkeypatch)
    page = console.get("/audit-log").get_data(as_text=True)
    assert "the chain breaks at place 2" in page and f"aud_{rows_by_place(acme)[2].id}" in page
    assert "badge-health-error" in page


def test_the_soc2_report_carries_the_latest_full_walk(app, client, acme, people):
    from tests.audit.test_soc2 import _pdf_text

    edit_entry(acme, 4)
    chain.full_walk(acme, "schedule")
    day = utcnow().date().isoformat()
    api = Api(client, people["admin_key"])
    report = api.get("/api/v1/audit-logs/soc2", query_string={"start_date": day, "end_date": day}).json
    last = report["audit_chain"]["full_verification"]["last"]
    assert (last["intact"], last["first_bad_seq"], last["trigger"]) == (False, 4, "schedule")
    pdf = api.get("/api/v1/audit-logs/soc2", query_string={"start_date": day, "end_date": day, "format": "pdf"})
    text = _pdf_text(pdf.data)
    assert f"Full verification BROKEN: 3 entries, places 1 to {last['head_seq']} (schedule)" in text
    assert f"aud_{rows_by_place(acme)[4].id} (place 4)" in text


# -- rotating SECRET_KEY ------------------------------------------------------------------------------

def _signatures(workspace_id):
    db.session.expire_all()
    return dict(db.session.execute(select(AuditCheckpoint.seq, AuditCheckpoint.signature)
                                   .where(AuditCheckpoint.chain == workspace_id)).all())


def test_resign_after_a_secret_key_rotation(app, acme):
    assert chain.checkpoint(acme)[1] == 9
    old, before = app.config["SECRET_KEY"], _signatures(acme)
    app.config["SECRET_KEY"] = "the rotated secret"
    rotated = chain.verify(acme, full=True)
    assert (rotated.intact, rotated.first_bad_seq) == (False, 6) and "SECRET_KEY changed" in rotated.reason
    runner = app.test_cli_runner()

    # Without the previous key nothing verifies, so nothing is re-signed.
    refused = runner.invoke(args=["audit", "resign"])
    assert refused.exit_code == 1 and "SECRET_KEY_FALLBACKS is empty" in refused.output
    assert "nothing was re-signed" in refused.output and _signatures(acme) == before

    app.config["SECRET_KEY_FALLBACKS"] = [old]
    assert chain.verify(acme, full=True).intact and chain.verify(acme).intact  # the fallback is accepted
    done = runner.invoke(args=["audit", "resign"])
    assert done.exit_code == 0 and "Re-signed 2 checkpoint(s)" in done.output
    after = _signatures(acme)
    assert after.keys() == before.keys() and all(after[seq] != before[seq] for seq in before)
    [resigned] = _actions(acme, "audit.checkpoints_resigned")
    assert resigned.details == {"count": 2, "through_seq": 9}

    app.config["SECRET_KEY_FALLBACKS"] = []  # the previous key can go
    assert chain.verify(acme, full=True).intact and chain.verify(acme).intact
    assert "Re-signed 0 checkpoint(s)" in runner.invoke(args=["audit", "resign"]).output


def test_resign_changes_nothing_when_any_chain_is_broken(app, acme):
    globex, gus = make_workspace("Globex")
    for n in range(3):
        entry(member_actor(globex.id, gus), "auth.sign_in", details={"n": n})
    assert chain.checkpoint(globex.id)[1] == 3
    old = app.config["SECRET_KEY"]
    before = {acme: _signatures(acme), globex.id: _signatures(globex.id)}
    edit_entry(globex.id, 2)
    app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = "the rotated secret", old
    resigned, broken = chain.resign()
    assert resigned == {} and list(broken) == [globex.id] and broken[globex.id].first_bad_seq == 2
    assert {acme: _signatures(acme), globex.id: _signatures(globex.id)} == before  # acme's were not re-signed
    assert _actions(acme, "audit.checkpoints_resigned") == []
