"""What an action writes, read back: the sandbox's listings that show a record written through
its API (an Outlook draft in Drafts and a sent mail in Sent Items; a Pipedrive activity and note)
answer as the provider's published description says, the written record included. Each test
writes, then reads, on one sandbox (reset before the test, tests/fidelity/conftest.py)."""
from sandbox.providers import microsoft as ms

from .harness import Case, Client, header_problems
from .test_provider_responses import GRAPH_MAIL_DELTA
from .validation import Allow, problems, undocumented

# An activity on no deal: real Pipedrive answers its deal fields null, where the SDK's (deprecated) v1
# Activity types them as present.
NO_DEAL = tuple(Allow(f"{where}/{name}", {"type": "null"}, "real Pipedrive sends null for an activity on no deal")
                for where in ("/data", "/data/*") for name in ("deal_id", "deal_title", "deal_dropbox_bcc"))


def conforming(sandbox_url, case: Case):
    """Send ``case``; its answer must conform to its description. The answer's JSON body."""
    response = Client(sandbox_url, case.provider).send(case)
    assert response.status_code == case.status, response.text[:500]
    schema, header_schemas = case.description()
    found = header_problems(case, response, header_schemas)
    if schema is None:
        assert not response.content, "the description has no body for this answer"
        return None
    body = response.json()
    found += problems(schema, body, allow=case.allow)
    found += [f"undocumented field {path}" for path in undocumented(schema, body) if not case.undocumented_allowed(path)]
    assert not found, f"{case.id} does not conform:\n  " + "\n  ".join(found)
    return body


def test_outlook_drafts_and_sent_items_list_what_the_api_wrote(sandbox_url):
    message = {"subject": "Fidelity", "body": {"contentType": "Text", "content": "Checked."},
               "toRecipients": [{"emailAddress": {"address": "ana@example.com"}}],
               "ccRecipients": [{"emailAddress": {"address": "bo@example.com"}}]}
    draft = conforming(sandbox_url, Case("graph", "POST", "/me/messages", schema="message", status=201, json=message))
    assert draft["isDraft"] is True and draft["parentFolderId"] == ms.FOLDER_ID["drafts"]
    for subject, keep in (("Sent", True), ("Not kept", False)):     # 202 Accepted, no body (the entities'
        sent = Client(sandbox_url, "graph").send(Case(           # description has no actions)
            "graph", "POST", "/me/sendMail", status=202,
            json={"message": {**message, "subject": subject}, "saveToSentItems": keep}))
        assert (sent.status_code, sent.content) == (202, b"")
    folders = conforming(sandbox_url, Case("graph", "GET", "/me/mailFolders", schema="mailFolder[]"))
    counts = {f["displayName"]: f["totalItemCount"] for f in folders["value"]}
    assert (counts["Drafts"], counts["Sent Items"]) == (1, 1)
    for folder, subject in (("drafts", "Fidelity"), ("sentitems", "Sent")):
        page = conforming(sandbox_url, Case("graph", "GET", "/me/mailFolders/{folder_id}/messages/delta",
                                            {"$select": GRAPH_MAIL_DELTA}, schema="message[]",
                                            path_args={"folder_id": ms.FOLDER_ID[folder]}))
        (mail,) = page["value"]
        assert mail["subject"] == subject and mail["body"] == {"contentType": "text", "content": "Checked."}
        assert [r["emailAddress"]["address"] for r in mail["toRecipients"]] == ["ana@example.com"]
    # A well-known name stands for the folder's id, as in Graph.
    named = conforming(sandbox_url, Case("graph", "GET", "/me/mailFolders/{folder_id}", schema="mailFolder",
                                         path_args={"folder_id": "drafts"}))
    assert named["id"] == ms.FOLDER_ID["drafts"]


def test_pipedrive_activities_and_notes_list_what_the_api_wrote(sandbox_url):
    from .test_provider_responses import (PIPEDRIVE_ACTIVITY_EXTRAS, PIPEDRIVE_ACTIVITY_NULLS, PIPEDRIVE_LAST_CURSOR,
                                          PIPEDRIVE_PAGINATION)

    v1 = dict(schema="v1-deprecated:AddActivityResponse", status=201, allow=PIPEDRIVE_ACTIVITY_NULLS,
              extras=PIPEDRIVE_ACTIVITY_EXTRAS)
    on_deal = conforming(sandbox_url, Case("pipedrive", "POST", "/v1/activities", json={
        "subject": "Fidelity call", "type": "call", "deal_id": 3, "due_date": "2026-12-08", "note": "Checked."}, **v1))
    alone = conforming(sandbox_url, Case("pipedrive", "POST", "/v1/activities", json={
        "subject": "Fidelity task", "person_id": 2}, **{**v1, "allow": PIPEDRIVE_ACTIVITY_NULLS + NO_DEAL}))
    assert on_deal["data"]["deal_id"] == 3 and on_deal["data"]["due_date"] == "2026-12-08"
    assert alone["data"]["deal_id"] is None and alone["data"]["person_id"] == 2
    made = f"{on_deal['data']['id']},{alone['data']['id']}"
    listed = conforming(sandbox_url, Case("pipedrive", "GET", "/v2/activities", {"ids": made},
                                          schema="v2:GetActivitiesResponse", allow=(PIPEDRIVE_LAST_CURSOR,)))
    assert [a["subject"] for a in listed["data"]] == ["Fidelity call", "Fidelity task"]
    changed = conforming(sandbox_url, Case("pipedrive", "GET", "/v2/activities", {
        "updated_since": on_deal["data"]["add_time"].replace(" ", "T") + "Z", "sort_by": "update_time"},
        schema="v2:GetActivitiesResponse", allow=(PIPEDRIVE_LAST_CURSOR,)))
    assert {a["id"] for a in changed["data"]} == {on_deal["data"]["id"], alone["data"]["id"]}
    conforming(sandbox_url, Case("pipedrive", "GET", "/v1/activities", {"user_id": 0, "start": 20},
                                 schema="v1-deprecated:GetActivitiesResponse", allow=PIPEDRIVE_ACTIVITY_NULLS + NO_DEAL,
                                 extras=PIPEDRIVE_ACTIVITY_EXTRAS + PIPEDRIVE_PAGINATION))

    note = conforming(sandbox_url, Case("pipedrive", "POST", "/v1/notes", json={"content": "<p>Checked.</p>", "deal_id": 3},
                                        schema="v1:UpsertNoteResponse", status=201))
    assert note["data"]["deal"]["title"] and note["data"]["user"]["is_you"] is True
    notes = conforming(sandbox_url, Case("pipedrive", "GET", "/v1/notes", {"sort": "update_time DESC"},
                                         schema="v1:GetNotesResponse"))
    assert [n["id"] for n in notes["data"]] == [note["data"]["id"]]
    one = conforming(sandbox_url, Case("pipedrive", "GET", "/v1/notes/{id}", path_args={"id": note["data"]["id"]},
                                       schema="v1:UpsertNoteResponse"))
    assert one["data"] == note["data"]
    gone = conforming(sandbox_url, Case("pipedrive", "DELETE", "/v1/notes/{id}", path_args={"id": note["data"]["id"]},
                                        schema="v1:DeleteNoteResponse"))
    assert gone == {"success": True, "data": True}
    listed = Client(sandbox_url, "pipedrive").send(Case("pipedrive", "GET", "/v1/notes", {"sort": "update_time DESC"},
                                                        schema="v1:GetNotesResponse"))
    assert listed.status_code == 200 and not listed.json()["data"]  # an empty page: data null, as v1 answers
    assert Client(sandbox_url, "pipedrive").send(Case("pipedrive", "DELETE", "/v1/notes/{id}", status=404,
                                                      path_args={"id": note["data"]["id"]},
                                                      schema="v1:DeleteNoteResponse")).status_code == 404





def test_gmail_lists_a_draft_and_a_sent_message_as_threads(sandbox_url):
    """threads.list leaves out only spam and trash: a draft (label DRAFT) and a sent message (SENT)
    are listed, and threads.get answers them as described; so do drafts.list, drafts.get,
    messages.list and messages.get."""
    raw = "VG86IGFuYUBleGFtcGxlLmNvbQpTdWJqZWN0OiBGaWRlbGl0eQoKQ2hlY2tlZC4"       # To, Subject: Fidelity, Checked.
    draft = conforming(sandbox_url, Case("google", "POST", "/gmail/v1/users/{userId}/drafts",
                                         schema="gmail.users.drafts.create", json={"message": {"raw": raw}}))
    sent = conforming(sandbox_url, Case("google", "POST", "/gmail/v1/users/{userId}/messages/send",
                                        schema="gmail.users.messages.send", json={"raw": raw}))
    listed = conforming(sandbox_url, Case("google", "GET", "/gmail/v1/users/{userId}/threads", {"maxResults": 5},
                                          schema="gmail.users.threads.list"))
    assert {draft["message"]["threadId"], sent["threadId"]} <= {t["id"] for t in listed["threads"]}
    for thread_id, label in ((draft["message"]["threadId"], "DRAFT"), (sent["threadId"], "SENT")):
        thread = conforming(sandbox_url, Case("google", "GET", "/gmail/v1/users/{userId}/threads/{thread_id}",
                                              {"format": "full"}, schema="gmail.users.threads.get",
                                              path_args={"thread_id": thread_id}))
        (message,) = thread["messages"]
        assert message["labelIds"] == [label] and message["snippet"].startswith("Checked.")
    # What an interrupted draft or send is looked up by (connectors/gmail.py): drafts.list and
    # drafts.get show the draft; messages.list by label SENT and messages.get the sent message.
    drafts = conforming(sandbox_url, Case("google", "GET", "/gmail/v1/users/{userId}/drafts", {"maxResults": 5},
                                          schema="gmail.users.drafts.list"))
    assert drafts["drafts"][0] == {"id": draft["id"], "message": {"id": draft["message"]["id"],
                                                                  "threadId": draft["message"]["threadId"]}}
    read = conforming(sandbox_url, Case("google", "GET", "/gmail/v1/users/{userId}/drafts/{id}", {"format": "full"},
                                        schema="gmail.users.drafts.get", path_args={"id": draft["id"]}))
    assert read["id"] == draft["id"] and read["message"]["labelIds"] == ["DRAFT"]
    listed = conforming(sandbox_url, Case("google", "GET", "/gmail/v1/users/{userId}/messages",
                                          {"labelIds": "SENT", "maxResults": 5}, schema="gmail.users.messages.list"))
    assert listed["messages"][0] == {"id": sent["id"], "threadId": sent["threadId"]}
    message = conforming(sandbox_url, Case("google", "GET", "/gmail/v1/users/{userId}/messages/{message_id}",
                                           {"format": "full"}, schema="gmail.users.messages.get",
                                           path_args={"message_id": sent["id"]}))
    headers = {h["name"]: h["value"] for h in message["payload"]["headers"]}
    assert (headers["To"], headers["Subject"], message["labelIds"]) == ("ana@example.com", "Fidelity", ["SENT"])


def test_notion_lists_a_written_subpage_and_appended_blocks_as_the_bots(sandbox_url):
    """What an interrupted create_page or append_blocks is looked up by (connectors/notion.py): the
    parent's children show the new subpage as a child_page block, and the appended paragraph at
    the end, each created by the integration's bot (GET /v1/users/me), answered as described."""
    from sandbox.providers.notion import nid

    bot = conforming(sandbox_url, Case("notion", "GET", "/v1/users/me"))["id"]
    page = conforming(sandbox_url, Case("notion", "POST", "/v1/pages", schema="PageObjectResponse", json={
        "parent": {"page_id": nid("page", 1)},
        "properties": {"title": {"title": [{"type": "text", "text": {"content": "Fidelity"}}]}}}))
    paragraph = {"object": "block", "type": "paragraph",
                 "paragraph": {"rich_text": [{"type": "text", "text": {"content": "Checked."}}]}}
    conforming(sandbox_url, Case("notion", "PATCH", "/v1/blocks/{block_id}/children", path_args={"block_id": page["id"]},
                                 json={"children": [paragraph]}))
    children = conforming(sandbox_url, Case("notion", "GET", "/v1/blocks/{block_id}/children", {"page_size": 100},
                                            path_args={"block_id": nid("page", 1)}))
    made = [b for b in children["results"] if b["type"] == "child_page" and b["id"] == page["id"]]
    assert [(b["child_page"]["title"], b["created_by"]["id"]) for b in made] == [("Fidelity", bot)]
    appended = conforming(sandbox_url, Case("notion", "GET", "/v1/blocks/{block_id}/children",
                                            path_args={"block_id": page["id"]}))["results"][-1]
    assert (appended["paragraph"]["rich_text"][0]["plain_text"], appended["created_by"]["id"]) == ("Checked.", bot)
