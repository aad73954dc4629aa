"""Discord end to end through the sync engine against the sandbox (the layout of test_slack_sync.py):
connect with the bot's token, full (channels and threads, messages with the message each replies
to), readers of a restricted channel and a private thread, a no-change incremental that writes
nothing, a new message and a deleted one (confirmed by id), a 429 storm on the messages route,
Discord's own words for a channel it does not know, and a revoked token.

The sandbox holds SEED 42, SCALE 25: server "Acme Sandbox" with #general, #random, #announcements,
#staff (the Staff role only: every third member), the threads release-plan, old-incident (archived)
and hiring (private: Ada and Emeka); 25 messages in each.
"""
import pytest
import requests

from access import service as access
from connections.models import Connection
from core.extensions import db
from sandbox.providers.discord import CHANNELS, user_id
from tests.connectors.walk import sandbox
from tests.factories import Api, add_member, configure, detached, make_api_key, synced

from .test_slack_sync import stored

TOKEN = "sandbox-discord-bot-token"
GENERAL, STAFF, HIRING = "1100000000000000101", "1100000000000000104", "1100000000000000203"
TEXTUAL = [c[0] for c in CHANNELS if c[2] in (0, 5, 11, 12)]


@pytest.fixture
def discord(api):
    created = api.post("/api/v1/connections", json={"connector_type": "discord", "api_key": TOKEN}).json
    assert created["connection"]["status"] == "connected", created
    assert created["connection"]["handle"] == "tributary-bot"
    return created["connection"]["id"]


def messages(server, channel) -> list[dict]:
    """What Discord lists in a channel, less system messages (joins): what should be stored."""
    found = requests.get(f"{server.url}/discord/api/v10/channels/{channel}/messages", timeout=5,
                         params={"limit": 100, "after": "0"}, headers={"Authorization": f"Bot {TOKEN}"}).json()
    return [m for m in found if m["type"] in (0, 19, 21)]


def members(app, client, workspace, people: dict[str, int]) -> dict[str, Api]:
    """A member per name, linked to Discord member ``people[name]`` as a verified sign-in would link them."""
    keys = {}
    with app.app_context():
        ws, _ = (db.session.merge(x) for x in workspace)
        for name, index in people.items():
            person = add_member(ws, email=f"{name}@acme.example")
            access.link_identity(ws.id, person.id, "provider_user", f"discord:{user_id(index)}", verified_via="oauth:test")
            keys[name] = make_api_key(ws, person, scopes=["query", "connections:read"], name=name)
        db.session.commit()
        db.session.remove()
    return {name: Api(client, key) for name, key in keys.items()}


def channels_read(member) -> set[str]:
    listed = member.get("/api/v1/documents?source=discord&limit=500").json["documents"]
    return {d["metadata"]["channel"] for d in listed if d["type"] == "message"}


def test_full_readers_incremental_and_deletion(app, api, client, discord, workspace, sandbox_server):
    configure(app, discord, channels=[GENERAL, STAFF, HIRING])
    people = members(app, client, workspace, {"ada": 0, "dev": 3, "emeka": 4})
    first = synced(app, api, discord)
    assert first["status"] == "completed", first
    expected = {m["id"] for c in (GENERAL, STAFF, HIRING) for m in messages(sandbox_server, c)}
    assert set(stored(app, discord, type="message")) == expected
    reply = next(m for m in messages(sandbox_server, GENERAL) if m["type"] == 19)
    assert "in reply to" in stored(app, discord, type="message")[reply["id"]].content

    # #staff: the Staff role (Ada, Dev); the private thread hiring: its members (Ada, Emeka).
    assert channels_read(people["ada"]) == {GENERAL, STAFF, HIRING}
    assert channels_read(people["dev"]) == {GENERAL, STAFF}
    assert channels_read(people["emeka"]) == {GENERAL, HIRING}

    quiet = synced(app, api, discord, full=False)
    assert (quiet["documents_created"], quiet["documents_updated"], quiet["records_written"]) == (0, 0, 0)

    sandbox(sandbox_server, "POST", "/_sandbox/collections/discord/messages",
            json={"channel": GENERAL, "author": 2, "content": "Zanzibar release is out", "kind": 0})
    listed = messages(sandbox_server, GENERAL)
    answered = {(m.get("message_reference") or {}).get("message_id") for m in listed}
    gone = min((m for m in listed if m["id"] not in answered), key=lambda m: int(m["id"]))
    # A snowflake's low 22 bits are the sandbox's record number.
    sandbox(sandbox_server, "DELETE", f"/_sandbox/collections/discord/messages/{int(gone['id']) & 0x3FFFFF}")
    app.config["PRUNE_INTERVAL_MINUTES"] = 0        # the incremental run lists ids too, then confirms
    later = synced(app, api, discord, full=False)
    assert (later["documents_created"], later["documents_updated"], later["documents_deleted"]) == (1, 0, 1)
    docs = stored(app, discord, type="message")
    assert gone["id"] not in docs and any("Zanzibar release is out" in d.content for d in docs.values())


@pytest.mark.slow           # three Retry-After waits of a second
def test_a_429_storm_is_waited_out_and_refusals_keep_discords_words(app, api, discord, sandbox_server):
    configure(app, discord, channels=[GENERAL, "1100000000000000999"])
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={
        "provider": "discord", "kind": "rate_limit", "retry_after": 1, "count": 3,
        "path_prefix": f"/discord/api/v10/channels/{GENERAL}/messages"})
    run = synced(app, api, discord)
    assert run["status"] == "completed", run
    assert sandbox(sandbox_server, "GET", "/_sandbox/stats")["rate_limited"]["discord"] == 3
    failed = {(u["stream"], u["channel"]): u for u in run["failed_units"]}
    assert set(failed) == {("channels", "1100000000000000999"), ("messages", "1100000000000000999")}
    assert failed[("messages", "1100000000000000999")]["error_code"] == "CHANNEL_NOT_FOUND"
    assert failed[("messages", "1100000000000000999")]["error_details"]["provider_message"] == "Unknown Channel"
    assert len(stored(app, discord, type="message")) == len(messages(sandbox_server, GENERAL))


def test_a_revoked_token_asks_for_reconnection(app, api, discord, sandbox_server):
    sandbox(sandbox_server, "POST", "/_sandbox/faults", json={"provider": "discord", "kind": "revoke_tokens"})
    run = synced(app, api, discord)
    assert run["status"] == "failed" and run["error_reason"] == "auth"
    assert "401: Unauthorized" in run["error_message"]
    assert detached(app, Connection, discord).needs_reauth is True
