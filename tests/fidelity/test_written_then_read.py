"""What an action writes, read back: the sandbox's listings that show a record written through
its API (an Outlook draft in Drafts and a sent mail in Sent Items; a Pipedrive activity and note)
answer as the provider's published description says, the written record included. Each test
writes, then reads, on one sandbox (reset before the test, tests/fidelity/conftest.py)."""
from sandbox.providers import microsoft as ms

from .harness import Case, Client, header_problems
from .test_provider_responses import GRAPH_MAIL_DELTA
from .validation import problems, undocumented


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
