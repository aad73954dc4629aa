"""X (Twitter): track a public account by handle, read with the operator's app bearer token.

Docs: https://docs.x.com/x-api/users/user-lookup-by-username

Stream ``posts`` (no channels): ``GET /2/users/{id}/tweets`` of the tracked account
(``ctx.external_account_id``), newest first, ``max_results=100`` with ``meta.next_token`` ->
``pagination_token``. Full: the whole timeline (X serves at most the latest 3,200 posts);
incremental: only posts newer than ``since_id``. Posts are not edited in place (an edit is a new
post id), so the newest id seen is the whole cursor.

State: ``{"newest_id": "<post id>"}``; mid-pass ``resume`` holds the ``pagination_token``, the
``since_id`` the pass started from and the newest id it has seen. Records are X's post JSON plus
``_author`` (``username``, ``name``) from the ``author_id`` expansion.
"""
import re

from core.errors import ValidationError

from .base import Account, CatalogEntry, Connector, DocumentData, Page, RateLimits, Stream
from .errors import HandleNotFound
from .http import ProviderClient
from .rest import RestStream, TokenPaginator, parse_time, resume_of, shorten

HANDLE = re.compile(r"^@?([A-Za-z0-9_]{1,15})$")

TWEETS = RestStream(
    "/2/users/{user_id}/tweets", TokenPaginator(("meta", "next_token"), "pagination_token", "max_results"),
    records_path=("data",), page_size=100,
    params={"tweet.fields": "created_at,author_id,conversation_id,lang,public_metrics,referenced_tweets",
            "expansions": "author_id", "user.fields": "username,name"})


class TwitterConnector(Connector):
    catalog = CatalogEntry(
        type="twitter",
        display_name="X (Twitter)",
        category="social",
        auth_method="handle",
        description="Posts of a public X account you track by its handle.",
        docs_url="https://docs.x.com/x-api/introduction",
        streams=(Stream("posts", "post", "Posts of the tracked account"),),
        # User lookup: 300 requests / 15 min per app; timelines: 1,500 / 15 min.
        rate_limits=RateLimits(requests_per_minute=20, requests_per_hour=1200),
        api_url="https://api.x.com",
        operator_settings=("bearer_token",),
    )

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
                                headers={"Authorization": f"Bearer {self.settings.get('bearer_token')}"})
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

    # -- syncing ----------------------------------------------------------------------------------
    page_size = 100     # X's maximum max_results (5..100)

    def client(self, ctx) -> ProviderClient:
        return ProviderClient("X", self.settings.api_url, timeout=self.settings.timeout, limiter=ctx.limiter,
                              headers={"Authorization": f"Bearer {self.settings.get('bearer_token')}"})

    def read(self, ctx, stream, *, state, mode, channel=None):
        if stream.name != "posts":
            raise ValueError(f"X has no stream {stream.name!r}")
        if not ctx.external_account_id:
            raise ValueError("The X posts stream needs the tracked account's id (external_account_id).")
        return self._read_posts(ctx, self.client(ctx), state, mode)

    def _read_posts(self, ctx, client, state, mode):
        state = state or {}
        resume = resume_of(state, mode)
        if resume is not None:
            since_id, token, newest = resume.get("since_id"), resume.get("page"), resume.get("newest_id")
        else:
            since_id = state.get("newest_id") if mode == "incremental" else None
            token, newest = None, None
        path_args = {"user_id": ctx.external_account_id}
        while True:
            fetched = TWEETS.fetch(client, path_args=path_args, params={"since_id": since_id},
                                   token=token, page_size=self.page_size)
            users = {u["id"]: u for u in ((fetched.body or {}).get("includes") or {}).get("users") or []}
            for post in fetched.records:
                author = users.get(post.get("author_id")) or {}
                post["_author"] = {"username": author.get("username") or ctx.handle, "name": author.get("name")}
                if newest is None or int(post["id"]) > int(newest):
                    newest = post["id"]
            token = fetched.next_token
            if token is None:
                yield Page(fetched.records, {"newest_id": newest or state.get("newest_id")}, last=True)
                return
            yield Page(fetched.records, {"newest_id": state.get("newest_id"), "resume": {
                "mode": mode, "page": token, "since_id": since_id, "newest_id": newest}})

    def list_ids(self, ctx, stream, channel=None):
        """The ids on the timeline now (a deleted post leaves it)."""
        if stream.name != "posts" or not ctx.external_account_id:
            return None
        return (post["id"] for page in self._read_posts(ctx, self.client(ctx), None, "full")
                for post in page.records)

    def fetch_records(self, ctx, stream, channel, external_ids):
        """``GET /2/tweets?ids=`` (100 at a time): a deleted post is answered in ``errors``."""
        if stream.name != "posts":
            return None
        client, found = self.client(ctx), []
        for start in range(0, len(external_ids), 100):
            body = client.get_json("/2/tweets", params={"ids": ",".join(external_ids[start:start + 100]),
                                                        **{k: v for k, v in TWEETS.params.items()}}) or {}
            users = {u["id"]: u for u in (body.get("includes") or {}).get("users") or []}
            for post in body.get("data") or []:
                if post.get("author_id") not in (None, ctx.external_account_id):
                    continue
                author = users.get(post.get("author_id")) or {}
                post["_author"] = {"username": author.get("username") or ctx.handle, "name": author.get("name")}
                found.append((str(post["id"]), post))
        return found

    def to_document(self, stream, record):
        if stream.name != "posts":
            raise ValueError(f"X has no stream {stream.name!r}")
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
