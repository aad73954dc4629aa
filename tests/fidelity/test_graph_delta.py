"""Graph delta rounds with something in them, held to @microsoft/microsoft-graph-types (the table's
cases meet seeded data only: Teams' delta reaches eight months back, and a first round reports no
deletion), and the identity platform's token endpoint as its docs word it."""
import requests

from sandbox.providers import microsoft as ms

from .conform import validate
from .harness import Client
from .test_provider_responses import GRAPH_SENDER

TOKEN = "/microsoft/common/oauth2/v2.0/token"


def follow(client: Client, url: str, params=None) -> list[dict]:
    """Every page of a delta round, from ``url`` to its deltaLink."""
    pages = [client.request("GET", url, params).json()]
    while "@odata.nextLink" in pages[-1]:
        pages.append(client.request("GET", pages[-1]["@odata.nextLink"]).json())
    return pages


def test_delta_rounds_bring_changes_and_deletions_as_graph_describes_them(sandbox_url):
    client = Client(sandbox_url, "graph")
    channel = f"/teams/{ms.TEAM_ID['sales']}/channels/{ms.CHANNEL_ID['sales/general']}/messages/delta"
    drive = f"/drives/{ms.DRIVE_ID['onedrive']}/root/delta"
    inbox = f"/me/mailFolders/{ms.FOLDER_ID['inbox']}/messages/delta"
    ends = {path: follow(client, path, params)[-1]["@odata.deltaLink"]
            for path, params in ((channel, {"$expand": "replies"}), (drive, None), (inbox, None))}
    collections = f"{sandbox_url}/_sandbox/collections/microsoft"
    posted = requests.post(f"{collections}/channel_messages", timeout=5, json={
        "channel": "sales/general", "author": 3, "subject": "Pricing", "html": "<p>New tiers</p>", "deleted": False,
        "replies": [{"author": 4, "html": "<p>Agreed</p>", "after": 5}]}).json()
    item = next(v for page in follow(client, drive) for v in page["value"] if "file" in v)
    mail = follow(client, inbox)[0]["value"][0]
    for name, record in (("drive_items", item), ("mail", mail)):
        requests.delete(f"{collections}/{name}/{record['id']}", timeout=5).raise_for_status()

    teams, files, mails = (follow(client, ends[path]) for path in (channel, drive, inbox))
    assert [m["id"] for p in teams for m in p["value"]] == [posted["id"]]
    assert [r["body"]["content"] for p in teams for m in p["value"] for r in m["replies"]] == ["<p>Agreed</p>"]
    assert [(v["id"], v["deleted"]) for p in files for v in p["value"]] == [(item["id"], {"state": "deleted"})]
    assert [(v["id"], v["@removed"]) for p in mails for v in p["value"]] == [(mail["id"], {"reason": "deleted"})]
    for name, pages in (("chatMessage[]", teams), ("driveItem[]", files), ("message[]", mails)):
        for page in pages:
            assert validate("graph", name, page, extras=GRAPH_SENDER) == []
    assert client.request("GET", ends[drive]).status_code == 200            # a deltaLink may be used again


def test_the_token_endpoint_answers_as_the_identity_platform(sandbox_url):
    def mint(scope):
        return requests.post(f"{sandbox_url}/_sandbox/tokens", json={"provider": "microsoft", "scope": scope},
                             timeout=5).json()

    client = {"client_id": ms.CLIENT["client_id"], "client_secret": ms.CLIENT["client_secret"]}
    assert "refresh_token" not in mint("User.Read")                       # no offline_access: no refresh token
    pair = mint("offline_access User.Read")
    assert (pair["token_type"], pair["expires_in"]) == ("Bearer", 3599)
    fresh = requests.post(sandbox_url + TOKEN, timeout=5, data={
        **client, "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]}).json()
    assert fresh["refresh_token"] != pair["refresh_token"] and fresh["scope"] == "offline_access User.Read"
    again = requests.post(sandbox_url + TOKEN, timeout=5, data={
        **client, "grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
    body = again.json()
    assert (again.status_code, body["error"], body["error_codes"]) == (400, "invalid_grant", [50173])
    assert body["error_description"].startswith("AADSTS50173: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body)
