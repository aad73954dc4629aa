"""X (Twitter): track a public account by handle, read with the operator's app bearer token.

Docs: https://docs.x.com/x-api/users/user-lookup-by-username

Stream ``posts`` (no channels): ``GET /2/users/{id}/tweets`` of the tracked account
(``ctx.external_account_id``), newest first, ``max_results=100`` with ``meta.next_token`` ->
``pagination_token``. Full: the whole timeline (X serves at most the latest 3,200 posts);
incremental: only posts newer than ``since_id``. Posts are not edited in place (an edit is a new
post id), so the newest id seen is the whole cursor (``Incremental.after_id``).

Deletion: the timeline lists every current id (a deleted post leaves it); ``GET /2/tweets?ids=``
(100 at a time) confirms, answering a deleted post in ``errors`` instead of ``data``.

State: ``{"cursor": "<post id>"}``; mid-pass ``resume`` holds the ``pagination_token``, the
``since`` the pass started from and the newest id it has seen. Records are X's post JSON plus
``_author`` (``username``, ``name``) from the ``author_id`` expansion. A public account's posts
are readable by anyone: their readers are the whole workspace.
"""
import re

from core.errors import ValidationError

from .base import Account, CatalogEntry, DocumentData, RateLimits
from .errors import HandleNotFound
from .http import ProviderClient
from .kit import FetchById, Incremental, RestConnector, StreamSpec, app_token, everyone
from .rest import RestStream, TokenPaginator, dig, parse_time, shorten

HANDLE = re.compile(r"^@?([A-Za-z0-9_]{1,15})$")
FIELDS = {"tweet.fields": "created_at,author_id,conversation_id,lang,public_metrics,referenced_tweets",
          "expansions": "author_id", "user.fields": "username,name"}


def with_authors(posts: list, body, api) -> None:
    """Each post's author (``_author``) from the page's ``includes.users``."""
    users = {u["id"]: u for u in dig(body, ("includes", "users")) or []}
    for post in posts:
        author = users.get(post.get("author_id")) or {}
        post["_author"] = {"username": author.get("username") or api.ctx.handle, "name": author.get("name")}


def post_document(record: dict) -> DocumentData:
    handle = (record.get("_author") or {}).get("username")
    text = record.get("text") or ""
    return DocumentData(
        external_id=str(record["id"]), title=shorten(text, 80) or f"Post {record['id']}", content=text,
        type="post", author=handle, url=(f"https://x.com/{handle}/status/{record['id']}" if handle
                                        else f"https://x.com/i/web/status/{record['id']}"),
        created_at=parse_time(record.get("created_at")), updated_at=parse_time(record.get("created_at")),
        metadata={"author_id": record.get("author_id"), "author_name": (record.get("_author") or {}).get("name"),
                  "lang": record.get("lang"), "conversation_id": record.get("conversation_id"),
                  "public_metrics": record.get("public_metrics") or {},
                  "referenced_tweets": record.get("referenced_tweets") or []})


POSTS = StreamSpec(
    "posts", "post", description="Posts of the tracked account", document=post_document,
    listing=RestStream("/2/users/{account}/tweets", TokenPaginator(("meta", "next_token"), "pagination_token",
                                                                   "max_results"),
                       records_path=("data",), params=FIELDS, page_size=100),
    incremental=Incremental.after_id("since_id"), list_ids=True, enrich=with_authors, readers=everyone,
    fetch=FetchById("/2/tweets", ids_param="ids", records_path=("data",), params=FIELDS,
                    belongs=lambda post, api: post.get("author_id") in (None, api.ctx.external_account_id)))


class TwitterConnector(RestConnector):
    catalog = CatalogEntry(
        type="twitter",
        display_name="X (Twitter)",
        category="social",
        auth_method="handle",
        description="Posts of a public X account you track by its handle.",
        docs_url="https://docs.x.com/x-api/introduction",
        # User lookup: 300 requests / 15 min per app; timelines: 1,500 / 15 min.
        rate_limits=RateLimits(requests_per_minute=20, requests_per_hour=1200),
        api_url="https://api.x.com",
        operator_settings=("bearer_token",),
    )
    streams = (POSTS,)
    auth = app_token("bearer_token")
    provider_label = "X"
    page_size = 100     # X's maximum max_results (5..100)

    @staticmethod
    def normalize_handle(handle: str) -> str:
        match = HANDLE.match((handle or "").strip())
        if not match:
            raise ValidationError("An X handle is 1 to 15 letters, digits or underscores, with or without @.",
                                  code="invalid_handle", details={"field": "account_handle"})
        return match.group(1)

    def resolve_handle(self, handle: str) -> Account:
        username = self.normalize_handle(handle)
        client = ProviderClient("X", self.settings.api_url, timeout=self.settings.timeout,
                                headers=self.auth.headers(self, None))
        body = client.get_json(f"/2/users/by/username/{username}",
                               params={"user.fields": "name,profile_image_url,public_metrics"})
        user = (body or {}).get("data")
        if not user:
            raise HandleNotFound(f"There is no X account @{username}.", details={"handle": username})
        return Account(external_id=str(user["id"]), handle=user["username"], display_name=user.get("name"),
                       avatar_url=user.get("profile_image_url"),
                       followers=(user.get("public_metrics") or {}).get("followers_count"))

    @classmethod
    def sandbox_settings(cls, sandbox_url: str) -> dict:
        return {"api_url": f"{sandbox_url}/x", "bearer_token": "sandbox-x-bearer"}
