"""The console pages through the Flask test client: inventory, catalog, connect flows, badges,
detail actions, settings, and who sees which buttons."""
import hashlib
import hmac
import json
import re
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from accounts.models import ApiKey
from connections.models import Connection
from core.extensions import db
from sync.models import SyncRun
from tests.console.conftest import connection_id_from, text_of
from tests.factories import make_connection, make_workspace
from tests.oauth_helpers import consent, local_path

PIPEDRIVE_KEY = "sandbox-pipedrive-key"
HTMX = {"HX-Request": "true"}


def connect_pipedrive(client, name=""):
    response = client.post("/connections/new/pipedrive", data={"api_key": PIPEDRIVE_KEY, "name": name})
    assert response.status_code == 303, text_of(response)
    return connection_id_from(response.headers["Location"])


def count_connections(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Connection))


def set_status(app, connection_id, **fields):
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        for key, value in fields.items():
            setattr(connection, key, value)
        db.session.commit()


# -- pages render --------------------------------------------------------------------------------

def test_every_page_renders_for_an_admin(client, admin):
    connection_id = connect_pipedrive(client)
    pages = ["/connections", "/connections/new", "/connections/new?q=git", "/connections/new/github",
             "/connections/new/pipedrive", "/connections/new/twitter", "/connections/new/webhook",
             "/connections/new/circleback", f"/connections/{connection_id}",
             f"/connections/{connection_id}/disconnect", f"/connections/{connection_id}/reconnect",
             "/settings/api-keys", "/settings/members"]
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert "<html" in text_of(response), page
    assert client.get(f"/connections/{connection_id}/badge").status_code == 286


def test_signed_out_visitor_is_sent_to_sign_in(client, workspace):
    response = client.get("/connections")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_nav_links_to_connections_api_keys_and_members(client, admin):
    page = text_of(client.get("/connections"))
    for href in ('href="/connections"', 'href="/settings/api-keys"', 'href="/settings/members"'):
        assert href in page
    assert 'aria-current="page"' in page


# -- inventory ------------------------------------------------------------------------------------

def test_empty_inventory_invites_connecting_the_first_source(client, admin):
    page = text_of(client.get("/connections"))
    assert "No connections yet" in page
    assert "Connect your first source" in page and 'href="/connections/new"' in page
    assert "<table" not in page


def test_inventory_lists_connections_newest_first_with_badges_and_times(app, client, admin):
    first = connect_pipedrive(client, "Older Pipedrive")
    second = client.post("/connections/new/webhook", data={"name": "Newer hook"})
    assert second.status_code == 201
    set_status(app, first, last_synced_at=_hours_ago(3))
    page = text_of(client.get("/connections"))
    assert page.index("Newer hook") < page.index("Older Pipedrive")
    assert "badge-health-healthy" in page and "badge-status-connected" in page
    assert "3 h ago" in page and re.search(r'<time datetime="[^"]+Z" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">3 h ago', page)
    assert f'href="/connections/{first}"' in page
    assert 'aria-live="polite"' in page


def test_an_unknown_filter_value_is_named_in_the_forms_words(client, admin):
    connect_pipedrive(client)
    response = client.get("/connections?health=fine")
    page = text_of(response)
    assert response.status_code == 422
    assert "“Health” has no value &#39;fine&#39;: pick one of the list." in page and "(invalid_filter)" in page
    assert re.search(r'id="inventory-health" name="health" aria-invalid="true" aria-describedby="inventory-error"', page)
    assert "1 connection" in page  # the list, unfiltered


def test_inventory_fragment_for_htmx(client, admin):
    connect_pipedrive(client)
    response = client.get("/connections?health=healthy&q=", headers=HTMX)
    body = text_of(response)
    assert response.status_code == 200 and "<html" not in body and 'id="inventory"' in body
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["HX-Push-Url"] == "/connections?health=healthy"  # the filters' address
    # The list refreshing itself (a connection settled) keeps its filters and adds no history entry.
    assert 'hx-get="/connections?health=healthy" hx-trigger="connection-settled from:body"' in body
    refreshed = client.get("/connections?health=healthy", headers={**HTMX, "HX-Trigger": "inventory"})
    assert refreshed.status_code == 200 and "HX-Push-Url" not in refreshed.headers


@pytest.mark.parametrize("query,expected", [
    ("connected=github", "GitHub connected."),
    ("connection_error=access_denied", "The authorization was declined at the provider"),
    ("connection_error=invalid_state", "invalid or already used"),
    ("connection_error=state_expired", "took too long and expired"),
    ("connection_error=token_exchange_failed", "refused to finish the authorization"),
    ("connection_error=provider_unavailable", "could not be reached"),
    ("connection_error=authorization_failed", "reported an error during the authorization"),
    ("connection_error=weird_thing", "error code: weird_thing"),
])
def test_oauth_result_flashes(client, admin, query, expected):
    page = text_of(client.get(f"/connections?{query}"))
    assert expected in page


# -- catalog --------------------------------------------------------------------------------------

def _tile(page, connector_type):
    """The HTML of one catalog tile."""
    for match in re.finditer(r'<article class="tile[^"]*"[^>]*>.*?</article>', page, re.S):
        if re.search(rf'data-name="[^"]* {re.escape(connector_type)}"', match.group(0)):
            return match.group(0)
    raise AssertionError(f"no tile for {connector_type}")


def test_the_connect_page_names_what_it_brings_in_words(client, admin):
    """The streams a connector brings in read as words, as the run history names them."""
    page = text_of(client.get("/connections/new/github"))
    assert "<strong>pull requests</strong>" in page and "pull_requests" not in page


def test_catalog_groups_every_entry_by_category(client, admin):
    page = text_of(client.get("/connections/new"))
    headings = re.findall(r'<h2 id="cat-[a-z]+" class="category-heading">([^<]+)</h2>', page)
    assert headings[:3] == ["CRM", "Calls", "Comms"]
    assert {"CRM", "Calls", "Comms", "Docs", "Support", "Social", "Dev tools", "Custom"} <= set(headings)
    assert page.count("data-catalog-tile") >= 20
    github = _tile(page, "github")
    assert 'href="/connections/new/github"' in github and "Connect" in github
    assert "OAuth sign-in" in github and "Workspace" in github
    assert "Personal" in _tile(page, "gmail")


def test_catalog_shows_coming_soon_and_not_available_tiles(client, admin):
    page = text_of(client.get("/connections/new"))
    circleback = _tile(page, "circleback")
    assert "Coming soon" in circleback and "disabled" in circleback
    assert "/connections/new/circleback" not in circleback
    gong = _tile(page, "gong")
    assert "Coming soon" in gong and "disabled" in gong and "Tributary does not sync Gong yet." in gong
    assert "/connections/new/gong" not in gong


def test_catalog_filter_works_without_javascript(client, admin):
    page = text_of(client.get("/connections/new?q=git"))
    assert " hidden" not in _tile(page, "github").split(">")[0]
    assert " hidden" not in _tile(page, "gitlab").split(">")[0]
    assert " hidden" in _tile(page, "pipedrive").split(">")[0]
    assert "2 of" in page and 'value="git"' in page
    fragment = client.get("/connections/new?q=git", headers=HTMX)
    assert "<html" not in text_of(fragment) and 'id="catalog"' in text_of(fragment)
    assert "HX-Request" in fragment.headers["Vary"]


def test_coming_soon_connect_page_has_no_form(client, admin):
    page = text_of(client.get("/connections/new/circleback"))
    assert "coming soon" in page and "<form method=\"post\" action=\"/connections/new/circleback\"" not in page
    assert client.post("/connections/new/circleback", data={"api_key": "x"}).status_code == 200
    assert client.get("/connections/new/nope").status_code == 404


# -- connect flows ----------------------------------------------------------------------------------

def test_pipedrive_bad_key_shows_the_inline_error_and_stores_nothing(app, client, admin):
    response = client.post("/connections/new/pipedrive", data={"api_key": "wrong-key", "name": ""})
    page = text_of(response)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in page and 'id="api_key-error"' in page
    assert "did not accept this key" in page
    assert "wrong-key" not in page  # the typed key is not echoed back
    assert count_connections(app) == 0


def test_pipedrive_good_key_connects_and_redirects_to_the_detail_page(app, client, admin):
    connection_id = connect_pipedrive(client)
    page = text_of(client.get(f"/connections/{connection_id}"))
    assert "Pipedrive connected as" in page
    assert PIPEDRIVE_KEY not in page
    assert count_connections(app) == 1


def test_github_oauth_connect_redirects_to_the_provider_and_back(app, client, admin):
    response = client.post("/connections/new/github", data={"name": ""})
    assert response.status_code == 303
    authorize_url = response.headers["Location"]
    assert "/authorize" in authorize_url and "state=" in authorize_url
    callback = consent(authorize_url)
    back = client.get(local_path(callback))
    assert back.status_code == 302
    assert urlsplit(back.headers["Location"]).path == "/connections"
    assert "connected=github" in back.headers["Location"]
    # The console opens the new connection's page.
    landing = client.get(local_path(back.headers["Location"]))
    assert landing.status_code == 303
    connection_id = connection_id_from(landing.headers["Location"])
    page = text_of(client.get(landing.headers["Location"]))
    assert "GitHub connected." in page and "GitHub (" in page and connection_id in page


def test_oauth_result_naming_another_workspaces_connection_stays_on_the_inventory(app, client, admin):
    with app.app_context():
        other, _ = make_workspace("Globex")
        foreign = make_connection(other.id, connector_type="github").id
    response = client.get(f"/connections?connected=github&connection_id={foreign}")
    assert response.status_code == 200 and "GitHub connected." in text_of(response)
    assert foreign not in text_of(response)


def test_github_oauth_denied_leaves_no_row(app, client, admin):
    response = client.post("/connections/new/github", data={})
    callback = consent(response.headers["Location"], approve=False)
    back = client.get(local_path(callback))
    assert "connection_error=access_denied" in back.headers["Location"]
    page = text_of(client.get(local_path(back.headers["Location"])))
    assert "declined at the provider" in page and "No connections yet" in page
    assert count_connections(app) == 0


def test_handle_connect_confirms_the_account_then_tracks_it(app, client, admin):
    confirm = client.post("/connections/new/twitter", data={"step": "resolve", "account_handle": "@acme"})
    page = text_of(confirm)
    assert confirm.status_code == 200
    assert "Acme Corp" in page and "@acme" in page and "followers" in page and "Track @acme" in page
    external_id = re.search(r'name="external_account_id" value="([^"]+)"', page).group(1)
    tracked = client.post("/connections/new/twitter", data={
        "step": "track", "account_handle": "acme", "external_account_id": external_id,
        "display_name": "Acme Corp", "followers": "4200"})
    assert tracked.status_code == 303
    connection_id = connection_id_from(tracked.headers["Location"])
    assert "Now tracking @acme" in text_of(client.get(f"/connections/{connection_id}"))
    # Looking it up again says it is already tracked and links to it.
    again = text_of(client.post("/connections/new/twitter", data={"step": "resolve", "account_handle": "acme"}))
    assert "already tracked" in again and f'href="/connections/{connection_id}"' in again
    # Tracking it again goes to the existing one.
    dup = client.post("/connections/new/twitter", data={"step": "track", "account_handle": "acme",
                                                         "external_account_id": external_id})
    assert dup.status_code == 303 and connection_id in dup.headers["Location"]
    assert count_connections(app) == 1


def test_unknown_handle_shows_an_inline_error(client, admin):
    response = client.post("/connections/new/twitter", data={"step": "resolve", "account_handle": "zz_nobody_here"})
    page = text_of(response)
    assert response.status_code == 404 and 'id="account_handle-error"' in page


def test_webhook_reveal_shows_the_secret_once_and_the_detail_page_never(app, client, admin):
    response = client.post("/connections/new/webhook", data={"name": "Billing events"})
    page = text_of(response)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="signing-secret" type="text" value="(whsec_[^"]+)"', page).group(1)
    assert page.count(secret) == 1
    assert "it will not be shown again" in page and "Tributary-Signature" in page
    url = re.search(r'id="webhook-url" type="text" value="([^"]+)"', page).group(1)
    connection_id = connection_id_from(url.replace("/webhooks/", "/connections/"))
    detail = text_of(client.get(f"/connections/{connection_id}"))
    assert secret not in detail and url in detail
    assert secret not in text_of(client.get("/connections"))
    # The revealed secret is the real one: a delivery signed with it is accepted.
    body = json.dumps({"id": "evt_1", "title": "Invoice paid"}).encode()
    t = int(time.time())
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    delivery = client.post(urlsplit(url).path, data=body, content_type="application/json",
                           headers={"Tributary-Signature": f"t={t},v1={signature}"})
    assert delivery.status_code == 202


# -- live badges --------------------------------------------------------------------------------------

def test_badge_of_a_settled_connection_stops_polling_with_286(client, admin):
    connection_id = connect_pipedrive(client)
    response = client.get(f"/connections/{connection_id}/badge", headers=HTMX)
    body = text_of(response)
    assert response.status_code == 286
    assert "hx-trigger" not in body and "healthy" in body and "connected" in body
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["HX-Trigger"] == "connection-settled"


def test_badge_of_a_pending_connection_polls_every_2s(app, client, admin):
    started = client.post("/connections/new/github", data={})
    assert started.status_code == 303
    with app.app_context():
        connection_id = db.session.scalar(select(Connection.id))
    response = client.get(f"/connections/{connection_id}/badge", headers=HTMX)
    body = text_of(response)
    assert response.status_code == 200
    assert f'hx-get="/connections/{connection_id}/badge"' in body
    assert 'hx-trigger="every 2s"' in body and 'hx-swap="outerHTML"' in body and "pending" in body
    # The inventory row polls too.
    assert 'hx-trigger="every 2s"' in text_of(client.get("/connections"))


def test_badge_polls_while_a_sync_runs(app, client, admin):
    connection_id = connect_pipedrive(client)
    client.post(f"/connections/{connection_id}/sync", data={"mode": "incremental"})
    with app.app_context():
        run = db.session.scalar(select(SyncRun))
        run.status = "running"
        db.session.commit()
    body = text_of(client.get(f"/connections/{connection_id}/badge", headers=HTMX))
    assert 'hx-trigger="every 2s"' in body and "badge-health-syncing" in body


@pytest.mark.parametrize("fields,words,css", [
    ({"status": "error", "last_error": "boom"}, "error", "badge-health-error"),
    ({"needs_reauth": True}, "needs reconnecting", "badge-health-needs_reauth"),
    ({"status": "disconnected"}, "disconnected", "badge-health-disconnected"),
])
def test_badge_words_and_colours(app, client, admin, fields, words, css):
    """The badge's class keeps the code (its colour); what it says is words."""
    connection_id = connect_pipedrive(client)
    set_status(app, connection_id, **fields)
    body = text_of(client.get(f"/connections/{connection_id}/badge"))
    assert css in body and f"</span>{words}</span>" in body


# -- detail and actions -------------------------------------------------------------------------------

def test_detail_shows_facts_runs_and_admin_actions(app, client, admin):
    connection_id = connect_pipedrive(client)
    with app.app_context():
        connection = db.session.get(Connection, connection_id)
        db.session.add(SyncRun(workspace_id=connection.workspace_id, connection_id=connection_id,
                               status="completed", triggered_by="schedule", mode="incremental",
                               started_at=_hours_ago(2), finished_at=_hours_ago(2), streams_total=3,
                               streams_failed=1, records_written=1234))
        db.session.commit()
    page = text_of(client.get(f"/connections/{connection_id}"))
    for text in ("Sync now", "Full sync", "Disconnect", "Rename", "Run history", "Last run", "1,234",
                 "schedule", "degraded", "API key"):
        assert text in page, text
    assert "Reconnect" not in page  # healthy: nothing to restore
    assert "hx-confirm=" in page and f'href="/connections/{connection_id}/disconnect"' in page


def test_sync_now_and_full_sync_queue_runs_and_flash_the_run_id(app, client, admin):
    connection_id = connect_pipedrive(client)
    response = client.post(f"/connections/{connection_id}/sync", data={"mode": "incremental"})
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]))
    with app.app_context():
        run = db.session.scalar(select(SyncRun))
        assert (run.mode, run.triggered_by) == ("incremental", "manual")
    assert f"Sync queued: run {run.id}" in page
    fragment = client.post(f"/connections/{connection_id}/sync", data={"mode": "full"}, headers=HTMX)
    body = text_of(fragment)
    assert fragment.status_code == 200 and "<html" not in body and 'id="connection-detail"' in body
    assert "Full sync queued: run run_" in body


def test_rename_and_rename_error(client, admin):
    connection_id = connect_pipedrive(client)
    response = client.post(f"/connections/{connection_id}/update", data={"name": "CRM (prod)"})
    assert response.status_code == 303
    assert "CRM (prod)" in text_of(client.get(f"/connections/{connection_id}"))
    bad = client.post(f"/connections/{connection_id}/update", data={"name": "  "}, headers=HTMX)
    assert bad.status_code == 422 and 'id="rename-error"' in text_of(bad)


def test_owner_select_only_for_personal_connections(app, client, admin, workspace):
    connection_id = connect_pipedrive(client)
    assert 'id="owner-select"' not in text_of(client.get(f"/connections/{connection_id}"))
    ws, user = workspace
    with app.app_context():
        gmail = Connection(workspace_id=ws.id, connector_type="gmail", name="Mailbox", scope="personal",
                           status="connected", owner_user_id=user.id, settings={})
        db.session.add(gmail)
        db.session.commit()
        gmail_id = gmail.id
    page = text_of(client.get(f"/connections/{gmail_id}"))
    assert 'id="owner-select"' in page and "Owner" in page
    cleared = client.post(f"/connections/{gmail_id}/update", data={"owner_user_id": ""})
    assert cleared.status_code == 303
    with app.app_context():
        assert db.session.get(Connection, gmail_id).owner_user_id is None


def test_disconnect_needs_a_confirmation_then_reconnect_with_a_new_key(app, client, admin):
    connection_id = connect_pipedrive(client)
    confirm = text_of(client.get(f"/connections/{connection_id}/disconnect"))
    assert "Disconnect" in confirm and 'id="confirm-disconnect"' in confirm
    assert count_connections(app) == 1
    done = client.post(f"/connections/{connection_id}/disconnect")
    assert done.status_code == 303
    page = text_of(client.get(f"/connections/{connection_id}"))
    assert "Disconnected." in page and "badge-health-disconnected" in page
    assert f'href="/connections/{connection_id}/reconnect"' in page and "Sync now" not in page
    bad = client.post(f"/connections/{connection_id}/reconnect", data={"api_key": "nope"})
    assert bad.status_code == 422 and 'id="api_key-error"' in text_of(bad)
    good = client.post(f"/connections/{connection_id}/reconnect", data={"api_key": PIPEDRIVE_KEY})
    assert good.status_code == 303
    page = text_of(client.get(f"/connections/{connection_id}"))
    assert "is reconnected" in page and "badge-status-connected" in page
    assert count_connections(app) == 1


def test_disconnect_with_htmx_returns_the_detail_fragment(client, admin):
    connection_id = connect_pipedrive(client)
    response = client.post(f"/connections/{connection_id}/disconnect", headers=HTMX)
    body = text_of(response)
    assert response.status_code == 200 and "<html" not in body and "Disconnected." in body


def test_reconnecting_a_healthy_connection_explains_why_not(client, admin):
    connection_id = connect_pipedrive(client)
    response = client.post(f"/connections/{connection_id}/reconnect", data={"api_key": PIPEDRIVE_KEY})
    page = text_of(response)
    assert response.status_code == 409 and "nothing to restore" in page and "<form" in page


def test_webhook_reconnect_reveals_a_new_secret(app, client, admin):
    created = text_of(client.post("/connections/new/webhook", data={"name": "Hook"}))
    old_secret = re.search(r'value="(whsec_[^"]+)"', created).group(1)
    with app.app_context():
        connection_id = db.session.scalar(select(Connection.id))
    client.post(f"/connections/{connection_id}/disconnect")
    response = client.post(f"/connections/{connection_id}/reconnect")
    page = text_of(response)
    assert response.status_code == 201 and "not be shown again" in page
    new_secret = re.search(r'value="(whsec_[^"]+)"', page).group(1)
    assert new_secret != old_secret


def test_webhook_secret_rotation_while_connected(app, client, admin, member_client):
    created = text_of(client.post("/connections/new/webhook", data={"name": "Hook"}))
    old_secret = re.search(r'value="(whsec_[^"]+)"', created).group(1)
    with app.app_context():
        connection_id = db.session.scalar(select(Connection.id))
    detail = text_of(client.get(f"/connections/{connection_id}"))
    assert 'id="rotate-secret-form"' in detail and '<option value="86400" selected>' in detail
    response = client.post(f"/connections/{connection_id}/rotate-secret", data={"grace_period_seconds": "3600"})
    page = text_of(response)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new_secret = re.search(r'id="signing-secret" type="text" value="(whsec_[^"]+)"', page).group(1)
    assert new_secret != old_secret and old_secret not in page and "keeps working until" in page
    assert new_secret not in text_of(client.get(f"/connections/{connection_id}"))
    # members see the connection but cannot rotate its secret
    refused = member_client.post(f"/connections/{connection_id}/rotate-secret", data={"grace_period_seconds": "0"})
    assert refused.status_code == 403 and "whsec_" not in text_of(refused)
    bad = client.post(f"/connections/{connection_id}/rotate-secret", data={"grace_period_seconds": "forever"})
    assert bad.status_code == 422 and "grace_period_seconds" in text_of(bad)


def test_handle_reconnect_is_direct(app, client, admin):
    page = text_of(client.post("/connections/new/twitter", data={"step": "resolve", "account_handle": "acme"}))
    external_id = re.search(r'name="external_account_id" value="([^"]+)"', page).group(1)
    tracked = client.post("/connections/new/twitter", data={"step": "track", "account_handle": "acme",
                                                             "external_account_id": external_id})
    connection_id = connection_id_from(tracked.headers["Location"])
    set_status(app, connection_id, status="error", last_error="X said no")
    detail = text_of(client.get(f"/connections/{connection_id}"))
    assert "X said no" in detail and "Last error" in detail
    response = client.post(f"/connections/{connection_id}/reconnect")
    assert response.status_code == 303
    assert "badge-status-connected" in text_of(client.get(f"/connections/{connection_id}"))


# -- permissions and tenancy ---------------------------------------------------------------------------

def test_member_sees_read_only_pages(app, client, admin, member_client):
    connection_id = connect_pipedrive(client)
    page = text_of(member_client.get(f"/connections/{connection_id}"))
    for admin_only in ("Sync now", "Full sync", "Disconnect", "Rename", "/reconnect"):
        assert admin_only not in page, admin_only
    assert "a workspace admin manages it" in page
    catalog = text_of(member_client.get("/connections/new"))
    assert 'href="/connections/new/pipedrive"' not in catalog
    assert 'href="/connections/new/gmail"' in catalog  # members connect their own mailbox
    keys = text_of(member_client.get("/settings/api-keys"))
    assert "Create a key" not in keys
    members = text_of(member_client.get("/settings/members"))
    assert "Add a member" not in members and "mia@example.com" in members


def test_member_actions_are_refused_by_the_domain(app, client, admin, member_client):
    connection_id = connect_pipedrive(client)
    refused = member_client.post(f"/connections/{connection_id}/disconnect")
    assert refused.status_code == 403 and "admin" in text_of(refused)
    assert member_client.post(f"/connections/{connection_id}/sync", data={}).status_code == 403
    denied = member_client.post("/connections/new/pipedrive", data={"api_key": PIPEDRIVE_KEY})
    assert denied.status_code == 403 and "Ask a workspace admin" in text_of(denied)
    assert member_client.post("/settings/api-keys", data={"name": "k", "scopes": ["query"]}).status_code == 403
    assert count_connections(app) == 1


def test_another_workspaces_connection_is_not_found(app, client, admin):
    with app.app_context():
        other, _user = make_workspace("Other")
        foreign = Connection(workspace_id=other.id, connector_type="pipedrive", name="Theirs",
                             status="connected", settings={})
        db.session.add(foreign)
        db.session.commit()
        foreign_id = foreign.id
    for path in (f"/connections/{foreign_id}", f"/connections/{foreign_id}/badge",
                 f"/connections/{foreign_id}/disconnect", "/connections/conn_doesnotexist"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Theirs" not in text_of(response)
    assert client.post(f"/connections/{foreign_id}/disconnect").status_code == 404


# -- settings -----------------------------------------------------------------------------------------

def test_api_key_is_shown_once_and_never_listed(app, client, admin):
    response = client.post("/settings/api-keys", data={"name": "Nightly export",
                                                      "scopes": ["connections:read", "query"]})
    page = text_of(response)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    clear = re.search(r'id="new-key" type="text" value="(trb_[^"]+)"', page).group(1)
    assert page.count(clear) == 1 and "will not be shown again" in page
    listing = text_of(client.get("/settings/api-keys"))
    assert clear not in listing and "Nightly export" in listing and clear[:12] + "…" in listing
    assert "connections:read" in listing
    # The key works, then is revoked after a confirmation.
    assert client.get("/api/v1/connections", headers={"Authorization": f"Bearer {clear}"}).status_code == 200
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id).where(ApiKey.name == "Nightly export"))
    assert "Revoke" in text_of(client.get(f"/settings/api-keys/{key_id}/revoke"))
    assert client.post(f"/settings/api-keys/{key_id}/revoke").status_code == 303
    assert client.get("/api/v1/connections", headers={"Authorization": f"Bearer {clear}"}).status_code == 401
    assert "Revoked Nightly export" in text_of(client.get("/settings/api-keys"))


def test_api_key_form_errors(client, admin):
    response = client.post("/settings/api-keys", data={"name": "No scopes"})
    assert response.status_code == 422 and 'id="scopes-error"' in text_of(response)
    unnamed = client.post("/settings/api-keys", data={"name": "", "scopes": ["query"]})
    assert unnamed.status_code == 422 and 'id="name-error"' in text_of(unnamed)


def test_revoke_with_htmx_returns_the_list_fragment(app, client, admin):
    client.post("/settings/api-keys", data={"name": "Temp", "scopes": ["query"]})
    with app.app_context():
        key_id = db.session.scalar(select(ApiKey.id))
    response = client.post(f"/settings/api-keys/{key_id}/revoke", headers=HTMX)
    body = text_of(response)
    assert response.status_code == 200 and "<html" not in body and 'id="api-keys"' in body and "Revoked Temp" in body


def test_admin_adds_a_member(client, admin):
    response = client.post("/settings/members", data={"email": "bo@example.com", "name": "Bo",
                                                      "password": "long enough pw", "role": "member"})
    assert response.status_code == 303
    page = text_of(client.get("/settings/members"))
    assert "bo@example.com" in page and "Added Bo" in page
    weak = client.post("/settings/members", data={"email": "cy@example.com", "name": "Cy",
                                                  "password": "short", "role": "member"})
    assert weak.status_code == 422 and 'id="password-error"' in text_of(weak)


def _hours_ago(hours):
    from datetime import timedelta

    from core.timeutil import utcnow

    return utcnow() - timedelta(hours=hours)
