"""Outlook: a personal connector; each member connects their own mailbox through Microsoft Graph
v1.0 (``connectors/_graph.py``: sign-in on the ``common`` tenant, so work, school and personal
Microsoft accounts, paging, errors). Docs: https://learn.microsoft.com/en-us/graph/api/resources/mail-api-overview,
https://learn.microsoft.com/en-us/graph/delta-query-messages.

``messages`` (channel: a mail folder, ``GET /me/mailFolders`` and, below folders that have them,
``GET /me/mailFolders/{id}/childFolders``; one document per message). Full and incremental:
``GET /me/mailFolders/{id}/messages/delta`` with ``$select`` (message-delta; pages sized by ``Prefer:
odata.maxpagesize``); the ``@odata.deltaLink``'s ``$deltatoken`` is the cursor. Deletion: a message
deleted or moved out of the folder comes back as ``{"id", "@removed": {"reason"}}`` (a tombstone; a
moved message has a new id in its new folder, Graph's default ids being folder-bound); a message a
full read missed is asked for by id (``GET /me/messages/{id}``: 404, or now in another folder, is
gone). The body is text (HTML converted by ``connectors/_text.py``), under its From, To, Cc and Date
lines; attachments are not read yet (``hasAttachments`` is in the metadata). Readers: the mailbox's
owner, the member who connected it (a personal connection). Every folder is a channel, Deleted
Items and Junk Email included (not skipped yet); a sync job may name one folder.

Rate limits: Outlook allows 10,000 requests per 10 minutes per app and mailbox, and 4 requests at
once per app (requests here are sequential).
"""
from __future__ import annotations

from datetime import timezone

from .actions import MAIL_PARAMETERS, Action, Lookup, Phrasing, ProviderRequest, same_words
from ._graph import DELTA, GraphConnector, every, graph_errors, next_link, pages, sign_in
from ._text import html_text
from .base import CatalogEntry, Channel, DocumentData, RateLimits
from .kit import Channels, FetchById, Incremental, StreamSpec
from .rest import parse_time

SELECT = ",".join(("subject", "from", "toRecipients", "ccRecipients", "receivedDateTime", "sentDateTime",
                   "lastModifiedDateTime", "body", "conversationId", "webLink", "parentFolderId", "hasAttachments",
                   "importance", "internetMessageId"))


def addresses(recipients) -> str:
    return ", ".join(filter(None, (((r or {}).get("emailAddress") or {}).get("address") for r in recipients or [])))


def mail_document(message: dict) -> DocumentData:
    body = message.get("body") or {}
    text = html_text(body.get("content")) if body.get("contentType") == "html" else body.get("content") or ""
    sender = addresses([message.get("from")])
    head = [f"From: {sender}", f"To: {addresses(message.get('toRecipients'))}"]
    head += [f"Cc: {addresses(message.get('ccRecipients'))}"] if message.get("ccRecipients") else []
    head += [f"Date: {message.get('receivedDateTime') or message.get('sentDateTime') or ''}"]
    return DocumentData(
        external_id=message["id"], title=message.get("subject") or "(no subject)", type="email", author=sender or None,
        content="\n".join(head) + "\n\n" + text, url=message.get("webLink"),
        created_at=parse_time(message.get("receivedDateTime") or message.get("sentDateTime")),
        updated_at=parse_time(message.get("lastModifiedDateTime")),
        metadata={"conversation_id": message.get("conversationId"), "folder_id": message.get("parentFolderId"),
                  "has_attachments": message.get("hasAttachments"), "importance": message.get("importance"),
                  "internet_message_id": message.get("internetMessageId")})


MESSAGES = StreamSpec(
    "messages", "email", pages("/me/mailFolders/{channel}/messages/delta", top=False, **{"$select": SELECT}),
    description="Mail, folder by folder", document=mail_document,
    channels=Channels("folder", pages("/me/mailFolders"), name="displayName", lookup="/me/mailFolders/{channel}"),
    incremental=Incremental.sync_token(None, DELTA), tombstone=lambda message: "@removed" in message,
    fetch=FetchById("/me/messages/{id}", params={"$select": SELECT},
                    belongs=lambda message, api: message.get("parentFolderId") == api.channel))


# -- actions (https://learn.microsoft.com/en-us/graph/api/user-post-messages, user-sendmail) ---------------

MAIL_RE = (r"(?:an? )?e-?mail to (?P<to>[^\s,]+@[^\s,]+(?:\s*,\s*[^\s,]+@[^\s,]+)*)"
           r" (?:with )?subject (?P<subject>.+?) (?:saying|with body|body:?)\s*(?P<body>.+)")


def graph_message(params) -> dict:
    """A Graph message resource: subject, a text body, recipients."""
    message = {"subject": params["subject"], "body": {"contentType": "Text", "content": params["body"]},
               "toRecipients": [{"emailAddress": {"address": a}} for a in params["to"]]}
    if params.get("cc"):
        message["ccRecipients"] = [{"emailAddress": {"address": a}} for a in params["cc"]]
    return message


def _written_to(folder: str) -> Lookup:
    """An interrupted draft or sent mail: a message of the mailbox's ``folder`` (Drafts, Sent
    Items) made since the run began, with the write's subject, recipients and body (by its words:
    Graph may keep a text body as HTML). The mailbox is the connection's owner's: anything in it
    is theirs."""
    def listing(write, params, api, since):
        return ProviderRequest("GET", f"/me/mailFolders/{folder}/messages", params={
            "$filter": f"createdDateTime ge {since.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "$top": 50})

    def same(write, params):
        message = write.body.get("message", write.body)
        return {"subject": message["subject"], "body.content": same_words(message["body"]["content"]),
                **{field: (lambda got, sent=message.get(field) or []: _addresses(got) == _addresses(sent))
                   for field in ("toRecipients", "ccRecipients")}}
    return Lookup(listing, same, records=("value",), made="createdDateTime", more=next_link)


def _addresses(recipients) -> list[str]:
    return sorted(((r or {}).get("emailAddress") or {}).get("address", "").lower() for r in recipients or [])


ACTIONS = (
    Action("create_draft", "Save a draft in the mailbox's Drafts folder (nothing is sent).", MAIL_PARAMETERS,
           "Mail.ReadWrite", lambda params, api: [ProviderRequest("POST", "/me/messages", graph_message(params))],
           lambda answers, params, api: {"id": answers[-1]["id"], "url": answers[-1].get("webLink")},
           find=_written_to("drafts"),
           phrasings=(Phrasing(r"(?:draft|write a draft of) " + MAIL_RE,
                               "Draft an email to ana@example.com subject Friday demo saying Can we move it to 3pm?"),)),
    Action("send", "Send an e-mail from the mailbox (a copy is kept in Sent Items).", MAIL_PARAMETERS, "Mail.Send",
           lambda params, api: [ProviderRequest("POST", "/me/sendMail",
                                                 {"message": graph_message(params), "saveToSentItems": True})],
           lambda answers, params, api: {"sent": True, "to": params["to"]}, external=True,
           find=_written_to("sentitems"),
           phrasings=(Phrasing(r"send " + MAIL_RE,
                               "Send an email to ana@example.com subject Invoice saying Attached is the invoice."),)),
)


class OutlookConnector(GraphConnector):
    catalog = CatalogEntry(
        type="outlook", display_name="Outlook", category="comms", auth_method="oauth_redirect", ownership="personal",
        description="Your Outlook mailbox, folder by folder, connected by each member for themselves.",
        docs_url="https://learn.microsoft.com/en-us/graph/api/resources/mail-api-overview",
        rate_limits=RateLimits(requests_per_minute=1000), base_url="https://login.microsoftonline.com",
        api_url="https://graph.microsoft.com/v1.0", oauth=sign_in("Mail.Read", "Mail.ReadWrite", "Mail.Send"))    # drafts and send: the actions
    streams = (MESSAGES,)
    actions = ACTIONS
    errors = graph_errors("(Mail.Read is the scope Outlook asks for.)")

    def channels(self, ctx, stream):
        """Every folder, child folders included (Graph lists one level at a time)."""
        if "outlook.folders" not in ctx.memo:
            api, found = self.api(ctx), []
            level = list(every(api, "/me/mailFolders"))
            while level:
                found += level
                level = [child for folder in level if folder.get("childFolderCount")
                         for child in every(api, "/me/mailFolders/{folder}/childFolders", folder=folder["id"])]
            ctx.memo["outlook.folders"] = [Channel(f["id"], f.get("displayName") or f["id"]) for f in found]
        return ctx.memo["outlook.folders"]
