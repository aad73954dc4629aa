"""Salesforce end to end through the sync engine against the sandbox (the layout of
test_hubspot_sync.py): connected through the consent page, the org's instance taken from the token
answer; a full sync of SOQL pages joined by queryMore through a 429-free but 5xx-stormy org;
incremental runs with no change and with changes (an edit, a new record, a deletion from
getDeleted); a run that stops, checkpointed, before the org's daily allowance is spent and goes on
from its checkpoint once there is room; readers by owner; an error in Salesforce's own words; a
revoked session.
"""
import pytest
import requests

from connections.models import Connection
from tests.connectors.walk import (changes_of, connect_oauth, counted, documents, own_sandbox, reset, revoked_run, sandbox,
                                   sync, to_source_mode)
from tests.factories import detached

SCALE = 9
# sandbox/providers/salesforce.py at that scale: 5 accounts, 9 contacts, 5 opportunities, 5 tasks,
# 4 events, 5 cases.
COUNTS = {"account": 5, "contact": 9, "deal": 5, "task": 5, "event": 4, "case": 5}
BATCH = 2           # queryMore after every two records
salesforce_sandbox = own_sandbox(SCALE)


@pytest.fixture
def app_config(app_config, salesforce_sandbox, monkeypatch):
    from sandbox.providers import salesforce as emulation

    monkeypatch.setattr(emulation, "MIN_BATCH", 1)
    reset(salesforce_sandbox)
    return {**app_config, "SANDBOX_URL": salesforce_sandbox.url, "CONNECTORS": {"salesforce": {"page_size": BATCH}}}


@pytest.fixture
def salesforce(app, api, client):
    connection_id = connect_oauth(app, api, client, "salesforce", expect="scope=api+refresh_token+id",
                                  settings={"requests_per_minute": 0, "requests_per_hour": 0})
    connection = detached(app, Connection, connection_id)
    assert connection.credentials["instance_url"].endswith("/salesforce")       # from the token answer
    assert connection.token_expires_at is not None          # refreshed within the org's shortest session
    return connection_id


stored, record = documents, changes_of("salesforce")


def usage(server) -> str:
    token = sandbox(server, "POST", "/_sandbox/tokens", json={"provider": "salesforce", "scope": "api"})["access_token"]
    answer = requests.get(f"{server.url}/salesforce/services/data/v62.0/query", params={"q": "SELECT Id FROM Account"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=5)
    return answer.headers["Sforce-Limit-Info"]


def served(server) -> int:
    return sandbox(server, "GET", "/_sandbox/stats")["requests"]["salesforce"]["total"]


def test_connect_full_incremental_changes_and_deletions(app, api, salesforce, salesforce_sandbox):
    from sandbox.providers.salesforce import ORG_ID, sfid

    assert api.get(f"/api/v1/connections/{salesforce}").json["external_account_id"] == ORG_ID
    sandbox(salesforce_sandbox, "POST", "/_sandbox/faults", json={
        "provider": "salesforce", "kind": "server_error", "status": 503, "count": 2,
        "path_prefix": "/salesforce/services/data/v62.0/query/"})         # two queryMore calls answer 503
    first = sync(app, api, salesforce)
    assert first["status"] == "completed" and first["documents_created"] == sum(COUNTS.values())
    docs = stored(app, salesforce)
    assert counted(docs, COUNTS) == COUNTS
    deal = docs[("deal", sfid("Opportunity", 1))]
    assert "Account: " in deal.content and deal.author and deal.url.endswith(
        f"/salesforce/lightning/r/Opportunity/{sfid('Opportunity', 1)}/view")
    assert "Contact: " in docs[("task", sfid("Task", 1))].content

    quiet = sync(app, api, salesforce, full=False)
    assert (quiet["status"], quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (
        "completed", 0, 0, 0)

    record(salesforce_sandbox, "PATCH", "Contact", "2", Name="Zanzibar Quokka", Email="zq@example.com")
    record(salesforce_sandbox, "POST", "Case", CaseNumber="00009999", Subject="Kale export fails", Status="New",
           AccountId=sfid("Account", 2), OwnerId="0055g0000000001AAA")
    record(salesforce_sandbox, "DELETE", "Opportunity", "3")          # in the recycle bin: getDeleted lists it
    later = sync(app, api, salesforce, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 1, 1)
    docs = stored(app, salesforce)
    assert docs[("contact", sfid("Contact", 2))].title == "Zanzibar Quokka (zq@example.com)"
    assert ("case", sfid("Case", 6)) in docs and ("deal", sfid("Opportunity", 3)) not in docs


def test_a_run_stops_before_the_daily_allowance_is_spent_and_resumes(app, api, salesforce, salesforce_sandbox,
                                                                     monkeypatch):
    """An org allowance of 4 requests a day, a tenth of it (one) left to the org's others:
    connecting took one, so the run reads two pages of accounts and stops, checkpointed, at 3
    used, before Salesforce refuses anything. With room again, the next run goes on from the
    accounts' checkpoint instead of reading them again."""
    from sandbox.providers import salesforce as emulation

    monkeypatch.setattr(emulation, "DAILY_ALLOWANCE", 4)
    stopped = sync(app, api, salesforce)
    assert (stopped["status"], stopped["error_reason"]) == ("failed", "rate_limit")
    assert sandbox(salesforce_sandbox, "GET", "/_sandbox/stats")["rate_limited"].get("salesforce", 0) == 0
    assert {kind for kind, _ in stored(app, salesforce)} == {"account"} and len(stored(app, salesforce)) == 2 * BATCH
    monkeypatch.setattr(emulation, "DAILY_ALLOWANCE", 15_000)
    assert usage(salesforce_sandbox) == "api-usage=4/15000"         # the run's 3 and this probe
    before = served(salesforce_sandbox)
    resumed = sync(app, api, salesforce)
    assert resumed["status"] == "completed" and len(stored(app, salesforce)) == sum(COUNTS.values())
    # A fresh full read takes 19 queries (a batch of two each); the accounts' first two batches are not asked again.
    assert served(salesforce_sandbox) - before == 19 - 2


def test_source_mode_readers_are_the_records_owners(app, api, salesforce, workspace):
    from sandbox.providers.salesforce import USERS
    from tests.connectors.test_slack_sync import members

    owner = USERS[1]
    people = members(app, api, workspace, (owner["Email"], "someone@else.example"))
    run = to_source_mode(app, api, salesforce)
    assert run["status"] == "completed" and run["records_hidden"] == 0
    owned = {(d.type, ext) for (_, ext), d in stored(app, salesforce).items() if d.metadata_["owner_id"] == owner["Id"]}
    listed = people[owner["Email"]].get("/api/v1/documents?source=salesforce&limit=500").json["documents"]
    assert owned and {(d["type"], d["external_id"]) for d in listed} == owned
    assert people["someone@else.example"].get("/api/v1/documents?source=salesforce&limit=500").json["documents"] == []


def test_a_refusal_is_shown_in_salesforces_own_words(app, api, salesforce, monkeypatch):
    from connectors.salesforce import OBJECTS

    import dataclasses

    import connectors.salesforce as module

    broken = dataclasses.replace(OBJECTS[0], fields="Name, Colour__c")
    monkeypatch.setitem(module.BY_NAME, "accounts", broken)
    run = sync(app, api, salesforce)
    failed = {u["stream"]: u for u in run["failed_units"]}
    details = failed["accounts"]["error_details"]
    assert (details["provider_status"], details["provider_code"]) == (400, "INVALID_FIELD")
    assert "No such column 'Colour__c' on entity 'Account'" in details["provider_message"]
    assert run["records_written"] == sum(COUNTS.values()) - COUNTS["account"]      # the other objects went on


def test_a_revoked_session_asks_for_a_reconnect(app, api, salesforce, salesforce_sandbox):
    run = revoked_run(app, api, salesforce_sandbox, "salesforce", salesforce)
    assert run["error_details"]["provider_code"] == "INVALID_SESSION_ID"
