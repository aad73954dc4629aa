"""The Python SDK (sdk/python) against a live server: the spec's connector methods on a GitHub
connection in the provider sandbox, query, pipeline sync, vector stores and documents with
pagination, the sync-jobs and connections APIs, each error class with its stable code, retries
that honour Retry-After, configuration from the environment, and mypy --strict."""
import os
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

import tributary
from knowledge import pipeline
from tributary import (ActionRun, APIConnectionError, AuthenticationError, ConflictError, DryRun, NotFoundError,
                       PermissionDeniedError, RateLimitError, ServerError, SyncTributaryClient, TributaryClient,
                       ValidationError)
from tests.actions.helpers import connect_oauth, writes
from core.extensions import db
from tests.factories import add_member, make_api_key, make_connection
from tests.running import run as run_async
from tests.sdk.conftest import REPO, records, run_queued

ROOT = Path(__file__).resolve().parents[2]


def test_connectors_as_the_spec_calls_them(app, live, keys, github_token, few_streams):
    """create, list, get, sync (full), delete: the spec's methods and fields, on one connection."""
    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        created = client.create_connector(connector_type="github", display_name="Company GitHub",
                                          credentials={"token": github_token}, settings={"channels": [REPO]})
        assert (created.connector_type, created.display_name, created.status) == ("github", "Company GitHub",
                                                                                   "connected")
        assert created.oauth_url is None and created.settings.channels == [REPO]
        assert [c.connector_id for c in client.list_connectors()] == [created.connector_id]

        accepted = client.sync_connector(created.connector_id, full=True)
        assert (accepted.status, accepted.sync_type) == ("syncing", "full")
        assert run_queued(app) == [accepted.sync_run_id]
        synced = client.get_connector(created.connector_id)
        assert synced.status == "idle" and synced.document_count > 0 and synced.last_sync_at is not None
        [run] = client.list_runs(created.connector_id)
        assert (run.id, run.status, run.mode) == (accepted.sync_run_id, "completed", "full")
        assert client.get_connection(created.connector_id).name == "Company GitHub"  # the same connection

        assert client.delete_connector(created.connector_id).status == "disconnected"
        assert client.get_connector(created.connector_id).status == "disconnected"


def test_oauth_url_for_a_connector_without_credentials(live, keys):
    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        pending = client.get_oauth_url("github", display_name="Eng GitHub")
    assert pending.status == "connecting" and "/login/oauth/authorize" in str(pending.oauth_url)


def test_query_pipeline_and_documents_async(live, keys):
    """The async client: pipeline sync into a new store, query with the spec's filters, documents
    paged through an async iterator, read and deleted, the store deleted."""
    async def scenario():
        async with TributaryClient(api_key=keys.admin, base_url=live) as client:
            store = await client.create_vector_store("notes", description="SDK test")
            assert [s.id for s in await client.list_vector_stores()][1:] == [store.id]  # the default first
            synced = await client.pipeline_sync(keys.workspace_id, store.id, records(
                ("n1", "Auth decision", "We chose OAuth with PKCE for the auth architecture."),
                ("n2", "Lunch", "Tacos on Friday."),
                ("n3", "Auth follow-up", "The auth architecture review is on Monday.")))
            assert synced.status == "success" and synced.results.upserted == 3

            response = await client.query("auth architecture", limit=10, include_reasoning=True,
                                          sources=["pipeline"], types=["note"], authors=["ada@acme.example"],
                                          date_after=date(2026, 3, 2), date_before="2026-03-31")
            assert [r.metadata.external_id for r in response.results] == ["n3"]  # n1 is dated March 1st
            assert response.reasoning and response.query_id.startswith("qry_") and response.latency_ms >= 0
            assert {r.metadata.external_id for r in (await client.query("auth architecture")).results} == {"n1", "n3"}

            ids = [d.id async for d in client.iter_documents(vector_store_id=store.id, page_size=2)]
            first = await client.list_documents(vector_store_id=store.id, limit=2)
            assert len(ids) == 3 and len(set(ids)) == 3 and first.next_cursor is not None
            document = await client.get_document(ids[0])
            assert document.content and document.vector_store_id == store.id
            assert (await client.delete_document(ids[0])).deleted
            with pytest.raises(NotFoundError):
                await client.get_document(ids[0])
            assert (await client.delete_vector_store(store.id)).deleted

    run_async(scenario)


def test_connections_pages_and_sync_jobs(app, live, keys, github_token, few_streams):
    """iter_connections walks cursor pages (sync and async clients alike); connect, status, check,
    a channel's sync job with its status and history."""
    with app.app_context():
        for n in range(3):
            make_connection(keys.workspace_id, connector_type="github", name=f"Code {n}")
    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        connected = client.connect("pipedrive", api_key="sandbox-pipedrive-key", name="Deals")
        assert connected.mode == "connected" and connected.connection.connector_type == "pipedrive"
        names = [c.name for c in client.iter_connections(page_size=2)]
        assert names == ["Deals", "Code 2", "Code 1", "Code 0"]  # newest first, over two pages
        assert client.list_connections(limit=2).next_cursor is not None
        assert client.get_connection_status(connected.connection.id).status == "connected"
        assert client.check_connection(connected.connection.id).ok
        assert client.disconnect(connected.connection.id).disconnected

        assert any(entry.type == "github" and entry.connectable for entry in client.get_catalog())

        github = client.create_connector("github", credentials={"token": github_token}, settings={"channels": [REPO]})
        started = client.start_sync_job(github.connector_id)  # a connection id: the whole connection
        assert run_queued(app) == [started.job_id]
        status = client.get_sync_job_status(github.connector_id, job_id=started.job_id)
        assert (status.job_id, status.status) == (started.job_id, "completed")
        assert [entry.job_id for entry in client.get_sync_job_history(github.connector_id)] == [started.job_id]
        scheduled = client.update_sync_schedule(REPO, "0 */4 * * *")  # the provider's channel id
        assert scheduled.enabled and [s.schedule for s in client.list_sync_schedules()] == ["0 */4 * * *"]

    async def walk():
        async with TributaryClient(api_key=keys.admin, base_url=live) as client:
            return [c.name async for c in client.iter_connections(page_size=1, connector_type="github",
                                                                  status="connected")]

    assert run_async(walk)[1:] == ["Code 2", "Code 1", "Code 0"]


def test_handles_webhooks_and_changes_to_a_connection(app, live, keys):
    """resolve then connect a handle; a webhook source and its secret's rotation; rename,
    sync, cancel the queued run, disconnect and reconnect in place."""
    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        account = client.resolve_handle("twitter", "@acme")
        assert (account.account_handle, account.external_account_id) == ("acme", "1234567890")
        handle = client.connect("twitter", account_handle="acme", external_account_id=account.external_account_id)
        assert handle.mode == "connected" and handle.connection.handle == "acme"

        hook = client.connect("webhook", name="Deploys")
        assert hook.mode == "webhook" and hook.signing_secret.startswith("whsec_")
        rotated = client.rotate_webhook_secret(hook.connection.id, grace_period_seconds=60)
        assert rotated.signing_secret != hook.signing_secret and rotated.grace_period_seconds == 60

        deals = client.connect("pipedrive", api_key="sandbox-pipedrive-key")
        assert deals.mode == "connected"
        assert client.update_connection(deals.connection.id, name="Sales").connection.name == "Sales"
        queued = client.sync_connection(deals.connection.id, full=True)
        assert (queued.sync_type, queued.run_status) == ("full", "pending")
        cancelled = client.cancel_sync_job(queued.sync_run_id)
        assert (cancelled.job_id, cancelled.status) == (queued.sync_run_id, "cancelled")
        assert client.disconnect(deals.connection.id).disconnected
        back = client.reconnect(deals.connection.id, api_key="sandbox-pipedrive-key")
        assert back.mode == "connected" and back.connection.id == deals.connection.id
        store = client.list_vector_stores()[0]
        assert client.get_vector_store(store.id).id == store.id


def test_audit_log_pages_entries_verification_and_soc2_exports(live, keys):
    """The spec's audit methods: get_audit_logs with its filters and cursor, the async pager over
    the same cursor, one entry, the chain's verification, and the SOC 2 report as JSON and PDF
    (each export audited in turn); another workspace's entry reads as missing, and the audit log
    needs the admin scope."""
    today = date.today()
    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        stores = [client.create_vector_store(f"audit {n}") for n in range(3)]
        client.delete_vector_store(stores[0].id)
        client.query("anything at all")

        first = client.get_audit_logs(limit=2, action="vector_store.*", actor="sdk admin", outcome="success",
                                      start=today, end=today.isoformat())
        assert [e.action for e in first.entries] == ["vector_store.deleted", "vector_store.created"]
        assert [e.target and e.target.id for e in first.entries] == [stores[0].id, stores[2].id]
        assert first.entries[0].actor.name == "sdk admin" and first.next_cursor is not None
        rest = client.get_audit_logs(limit=2, action="vector_store.*", cursor=first.next_cursor)
        assert [(e.action, e.target and e.target.id) for e in rest.entries] == [
            ("vector_store.created", stores[1].id), ("vector_store.created", stores[0].id)]
        assert rest.next_cursor is None
        walked = [e.id for e in client.iter_audit_logs(action="vector_store.*", actor="sdk admin", page_size=3)]
        assert walked == [e.id for e in first.entries + rest.entries]  # over two pages, nothing repeated
        # The query created the default store: the system did, so the actor filter left it out.
        [default] = client.get_audit_logs(action="vector_store.created", actor="system").entries
        assert default.actor.type == "system" and default.id not in walked
        assert client.get_audit_log(walked[-1]).action == "vector_store.created"

        verified = client.verify_audit_logs()
        assert verified.intact and verified.first_bad_seq is None and verified.entries_checked >= 5
        assert verified.full_verification.last is None
        asked = client.request_full_audit_verification()
        assert asked.requested is not None and asked.requested.requested_by == "sdk admin"
        assert client.verify_audit_logs().full_verification.requested.entry_id == asked.requested.entry_id

        report = client.export_soc2(today, today)
        assert report.workspace.id == keys.workspace_id and report.period.start.startswith(today.isoformat())
        assert report.data_access.queries == 1 and report.audit_chain.intact
        pdf = client.export_soc2_pdf(today.isoformat(), today.isoformat())
        assert isinstance(pdf, bytes) and pdf.startswith(b"%PDF-")
        exported = client.get_audit_logs(action="audit.exported").entries
        assert [e.details["format"] for e in exported] == ["soc2_pdf", "soc2_json"]

        with pytest.raises(ValidationError) as backwards:
            client.export_soc2("2026-02-01", "2026-01-01")
        assert (backwards.value.status, backwards.value.code) == (422, "invalid_date_range")

    async def walk():
        async with TributaryClient(api_key=keys.admin, base_url=live) as client:
            return [e.id async for e in client.iter_audit_logs(action="vector_store.created", actor="sdk admin",
                                                               page_size=1)]

    assert run_async(walk) == walked[1:]  # page by page, one entry each
    with SyncTributaryClient(api_key=keys.other, base_url=live) as theirs:
        with pytest.raises(NotFoundError) as not_theirs:
            theirs.get_audit_log(walked[0])
        assert not_theirs.value.code == "not_found"
    with SyncTributaryClient(api_key=keys.query_only, base_url=live) as reader:
        with pytest.raises(PermissionDeniedError) as denied:
            reader.get_audit_logs()
        assert denied.value.details["required_scope"] == "admin"


def test_actions_planned_run_replayed_held_approved_and_rejected(app, live, keys, sandbox_server):
    """On a Slack connection in the provider sandbox: the spec's execute_action (an intent in words,
    dry run then run), the structured run_action replayed without posting twice, the policy that
    holds a run for approval, approval (which sends the stored plan) and rejection (which sends
    nothing), and the refusals' classes and codes."""
    slack = connect_oauth(app, app.test_client(), keys.acme, "slack")
    hello = {"channel": "#general", "text": "Deployment complete"}
    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        listed = client.list_actions(slack)
        assert [a.name for a in listed.actions] == ["post_message"] and listed.policy.allowed_actions is None

        intent = "Send message to #general about deployment complete"
        plan = client.execute_action(slack, intent=intent, context={"priority": "high"}, dry_run=True)
        assert isinstance(plan, DryRun) and (plan.router, plan.action) == ("rules", "post_message")
        before = len(writes(sandbox_server, "slack"))
        done = client.execute_action(slack, intent=intent, context={"priority": "high"})
        assert isinstance(done, ActionRun) and done.status == "succeeded" and done.intent == intent
        assert done.plan == plan.plan and len(writes(sandbox_server, "slack")) == before + 1

        ran = client.run_action(slack, "post_message", hello, idempotency_key="deploy-2.4.1")
        again = client.run_action(slack, "post_message", hello, idempotency_key="deploy-2.4.1")
        assert isinstance(again, ActionRun) and (again.id, again.replayed) == (ran.id, True)
        assert len(writes(sandbox_server, "slack")) == before + 2  # the repeat posted nothing

        held = client.set_action_policy(slack, approval_required=["post_message"])
        assert held.actions[0].requires_approval and held.policy.allowed_actions is None  # left out: kept
        pending = client.run_action(slack, "post_message", hello, idempotency_key="held")
        waiting = client.run_action(slack, "post_message", hello, idempotency_key="to-reject")
        assert isinstance(pending, ActionRun) and pending.status == "pending_approval"
        assert {r.id for r in client.list_action_runs(slack, status="pending_approval")} == {pending.id,
                                                                                             waiting.id}
        with pytest.raises(PermissionDeniedError) as own:            # four-eyes: not the requester
            client.approve_action_run(slack, pending.id)
        assert own.value.code == "self_approval_not_allowed"
        with app.app_context():
            acme = db.session.merge(keys.acme[0])
            second = make_api_key(acme, add_member(acme, email="bea@acme.example", role="admin"), ["admin"],
                                  name="sdk approver")
        with SyncTributaryClient(api_key=second, base_url=live) as approver:
            approved = approver.approve_action_run(slack, pending.id)
        assert (approved.status, approved.decided_by) == ("succeeded", "sdk approver")
        assert client.reject_action_run(slack, waiting.id).status == "rejected"
        assert client.get_action_run(slack, waiting.id).status == "rejected"
        assert len(writes(sandbox_server, "slack")) == before + 3  # the approved one only
        with pytest.raises(ConflictError) as decided:
            client.approve_action_run(slack, waiting.id)
        assert decided.value.code == "not_pending"

        with pytest.raises(ValidationError) as unclear:
            client.execute_action(slack, intent="make it nice")
        assert unclear.value.code == "could_not_route" and unclear.value.details["router"] == "rules"
        with pytest.raises(ValidationError) as missing:
            client.run_action(slack, "post_message", {"channel": "#general"})
        assert (missing.value.code, missing.value.details["parameter"]) == ("invalid_action_parameter", "text")
    with SyncTributaryClient(api_key=keys.other, base_url=live) as theirs:
        with pytest.raises(NotFoundError):
            theirs.list_actions(slack)


def test_usage_subscription_and_members(app, live, keys):
    """The spec's get_usage, get_subscription, list_users and invite_user, and a member's role
    change and removal, with the last admin kept and the refusals' codes."""
    with app.app_context():
        bob = add_member(keys.acme[0], email="bob@acme.example").id
    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        client.query("anything at all")
        usage = client.get_usage(period="week")
        assert (usage.workspace_id, usage.period, usage.bucket) == (keys.workspace_id, "week", "day")
        assert usage.queries.count == 1 and usage.api_calls.calls >= 1
        window = client.get_usage(start=date.today(), end=datetime.now(timezone.utc))
        assert window.period is None and window.bucket == "hour" and window.queries.count == 1
        subscription = client.get_subscription()
        assert subscription.plan == "self_hosted" and subscription.workspace_id == keys.workspace_id
        assert {limit.name for limit in subscription.limits} >= {"connections", "queries_per_day"}

        invited = client.invite_user("carol@acme.example", role="admin")
        assert (invited.invitation.email, invited.invitation.role, invited.delivery) == (
            "carol@acme.example", "admin", "link") and invited.invitation_url
        listed = client.list_users()
        assert {u.email: u.role for u in listed.users} == {"acme-admin@example.com": "admin",
                                                          "bob@acme.example": "member"}
        assert [i.email for i in listed.invitations] == ["carol@acme.example"]
        assert client.revoke_invitation(invited.invitation.id).revoked
        assert client.list_users().invitations == []

        assert client.change_user_role(bob, "admin").role == "admin"
        assert client.change_user_role(bob, "member").role == "member"
        removed = client.remove_user(bob)
        assert removed.removed and removed.user_id == bob
        with pytest.raises(NotFoundError):
            client.remove_user(bob)
        ada = client.list_users().users[0].id
        with pytest.raises(ConflictError) as last:
            client.change_user_role(ada, "member")
        assert last.value.code == "last_admin"
        with pytest.raises(ValidationError) as bad_address:
            client.invite_user("not an address")
        assert bad_address.value.code == "invalid_email"
        with pytest.raises(ValidationError) as backwards:
            client.get_usage(start="2026-02-01", end="2026-01-01")
        assert backwards.value.code == "invalid_date_range"
    with SyncTributaryClient(api_key=keys.query_only, base_url=live) as reader:
        with pytest.raises(PermissionDeniedError) as denied:
            reader.get_subscription()
        assert denied.value.details["required_scope"] == "admin"


def test_each_error_carries_its_class_and_stable_code(app, live, keys):
    missing = "conn_doesnotexist0000"
    with app.app_context():
        theirs = make_connection(keys.other_workspace_id, name="Theirs").id
    with SyncTributaryClient(api_key="trb_not_a_key", base_url=live) as client:
        with pytest.raises(AuthenticationError) as refused:
            client.list_connectors()
    assert refused.value.status == 401 and refused.value.code == "invalid_api_key"

    with SyncTributaryClient(api_key=keys.query_only, base_url=live) as client:
        with pytest.raises(PermissionDeniedError) as denied:
            client.list_connectors()
    assert denied.value.code == "insufficient_scope" and denied.value.details["required_scope"] == "connections:read"

    with SyncTributaryClient(api_key=keys.admin, base_url=live) as client:
        errors = []
        for connector_id in (missing, theirs):  # another workspace's id reads as a missing one
            with pytest.raises(NotFoundError) as not_found:
                client.get_connector(connector_id)
            errors.append((not_found.value.status, not_found.value.code))
        assert errors[0] == errors[1] == (404, "not_found")

        with pytest.raises(ValidationError) as invalid:
            client.create_connector("pipedrive", credentials={"api_key": "sandbox-pipedrive-key"},
                                    settings={"channels": ["x"]})
        assert invalid.value.code == "unknown_setting" and invalid.value.details["setting"] == "channels"
        with pytest.raises(ValidationError) as too_many:
            client.query("anything", limit=1000)
        assert too_many.value.status == 422 and too_many.value.details


def test_rate_limit_retries_after_retry_after_or_raises_it(app, live, keys, monkeypatch):
    """Pipeline sync allows one request a second here: a client with retries waits the server's
    Retry-After and succeeds; one without raises RateLimitError with retry_after."""
    app.config["PIPELINE_RATE_LIMIT_PER_MINUTE"] = 1
    monkeypatch.setattr(pipeline, "RATE_WINDOW_SECONDS", 1)
    batch = records(("n1", "One", "The first note."))
    with SyncTributaryClient(api_key=keys.admin, base_url=live, max_retries=0) as impatient, \
            SyncTributaryClient(api_key=keys.admin, base_url=live, max_retries=2) as patient:
        store = impatient.list_vector_stores()[0].id
        impatient.pipeline_sync(keys.workspace_id, store, batch)
        with pytest.raises(RateLimitError) as limited:
            impatient.pipeline_sync(keys.workspace_id, store, batch)
        assert limited.value.code == "rate_limited" and limited.value.retry_after == 1
        started = time.monotonic()
        assert patient.pipeline_sync(keys.workspace_id, store, batch).status == "success"
        assert time.monotonic() - started >= 0.9  # it waited the Retry-After before retrying


def test_server_errors_are_retried_only_where_repeating_is_safe(live, keys, monkeypatch):
    """A fault injected into the live server: a read that fails once is retried and succeeds; a
    read that keeps failing is tried 1 + max_retries times; a sync request (a POST that would
    queue a second run) is tried once. No answer at all is an APIConnectionError."""
    from connections import connectors_api

    calls = {"list": 0, "sync": 0}
    listing = connectors_api.list_connectors

    def flaky_list(actor):
        calls["list"] += 1
        if calls["list"] == 1 or failing:
            raise RuntimeError("injected fault")
        return listing(actor)

    def broken_sync(actor, connector_id, *, full):
        calls["sync"] += 1
        raise RuntimeError("injected fault")

    monkeypatch.setattr(connectors_api, "list_connectors", flaky_list)
    monkeypatch.setattr(connectors_api, "sync_connector", broken_sync)
    failing = False
    with SyncTributaryClient(api_key=keys.admin, base_url=live, max_retries=2) as client:
        assert client.list_connectors() == [] and calls["list"] == 2
        failing = True
        with pytest.raises(ServerError) as broken:
            client.list_connectors()
        assert (broken.value.status, broken.value.code, calls["list"]) == (500, "internal_error", 5)
        with pytest.raises(ServerError):
            client.sync_connector("conn_doesnotexist0000")
        assert calls["sync"] == 1
    with SyncTributaryClient(api_key=keys.admin, base_url="http://127.0.0.1:9", max_retries=0) as nowhere:
        with pytest.raises(APIConnectionError) as unreachable:
            nowhere.me()
    assert unreachable.value.code == "connection_error" and unreachable.value.status is None


def test_both_clients_show_each_operation_with_its_parameters_and_answer():
    """One definition, two methods: the async one a coroutine function, the blocking one not,
    both with the operation's parameters, its docstring and what it answers."""
    import inspect

    spec = {"limit": 10, "include_reasoning": False, "sources": None, "date_after": None, "date_before": None,
            "authors": None, "types": None}
    for client in (TributaryClient(api_key="trb_x"), SyncTributaryClient(api_key="trb_x")):
        signature = inspect.signature(client.query)
        assert {name: signature.parameters[name].default for name in spec} == spec
        assert signature.return_annotation == "QueryResponse" and "POST /api/v1/query" in client.query.__doc__
        assert inspect.iscoroutinefunction(client.query) is isinstance(client, TributaryClient)
    assert str(inspect.signature(TributaryClient(api_key="trb_x").iter_connections).return_annotation) == (
        "AsyncIterator[Connection]")
    assert str(inspect.signature(SyncTributaryClient(api_key="trb_x").iter_documents).return_annotation) == (
        "Iterator[DocumentSummary]")


def test_create_client_reads_the_environment(live, keys, monkeypatch):
    monkeypatch.setenv("TRIBUTARY_API_KEY", keys.admin)
    monkeypatch.setenv("TRIBUTARY_BASE_URL", live + "/")
    client = tributary.create_sync_client(timeout=5)
    assert client.base_url == live and client.me().workspace_id == keys.workspace_id

    async def me():
        async with tributary.create_client() as client:
            return await client.me()

    assert run_async(me).name == "sdk admin"
    monkeypatch.delenv("TRIBUTARY_API_KEY")
    with pytest.raises(tributary.TributaryError, match="TRIBUTARY_API_KEY"):
        tributary.create_client()


# Code that uses both clients as a user would: mypy must see each operation's parameters and
# answer through the descriptors that make one definition serve both clients.
TYPED_USE = """
from datetime import date, datetime, timezone

from tributary import AuditLogEntry, Connection, QueryResponse, Soc2Report, SyncTributaryClient, TributaryClient


async def use(client: TributaryClient, blocking: SyncTributaryClient) -> list[str]:
    answer: QueryResponse = await client.query("auth", limit=5, sources=["github"], date_after="2026-01-01")
    again: QueryResponse = blocking.query("auth", include_reasoning=True)
    names = [c.name async for c in client.iter_connections(page_size=10)]
    found: list[Connection] = list(blocking.iter_connections(status="connected"))
    logged: list[AuditLogEntry] = [e async for e in client.iter_audit_logs(action="connection.*", outcome="failure")]
    report: Soc2Report = await client.export_soc2(start_date="2026-01-01", end_date=date(2026, 1, 31))
    pdf: bytes = blocking.export_soc2_pdf("2026-01-01", "2026-01-31")
    return names + [c.name for c in found] + [answer.query_id, again.query_id, report.generated_at, pdf.hex()] + [
        e.id for e in logged + (await client.get_audit_logs(limit=100, start="2026-01-01")).entries]
"""
MISUSE = """
from tributary import SyncTributaryClient, TributaryClient


async def misuse(client: TributaryClient, blocking: SyncTributaryClient) -> None:
    client.query("auth", limt=5)
    blocking.sync_connector(42)
    text: str = await client.list_connectors()
    blocking.iter_documents(page_size="ten")
"""


def mypy(*args: str, cache) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *args],
                          cwd=ROOT / "sdk" / "python" / "src", capture_output=True, text=True)


@pytest.mark.slow
def test_the_package_and_code_using_it_type_check_with_mypy_strict(tmp_path):
    (tmp_path / "typed_use.py").write_text(TYPED_USE)
    (tmp_path / "misuse.py").write_text(MISUSE)
    result = mypy("tributary", str(tmp_path / "typed_use.py"), cache=tmp_path / "cache")  # the package dir
    assert result.returncode == 0, result.stdout + result.stderr
    wrong = mypy(str(tmp_path / "misuse.py"), cache=tmp_path / "cache")
    assert wrong.returncode == 1
    for line, error in ((6, 'Unexpected keyword argument "limt"'), (7, 'incompatible type "int"; expected "str"'),
                        (8, 'Incompatible types in assignment (expression has type "list[Connector]"'),
                        (9, 'incompatible type "str"; expected "int"')):
        assert f"misuse.py:{line}: error: " in wrong.stdout and error in wrong.stdout, wrong.stdout
