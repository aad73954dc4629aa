"""X API v2 with app-only bearer tokens, under /x: user lookup by username or id, and a user's
posts with next_token pagination. Like the real API, a user that does not exist is an HTTP 200
whose body carries ``errors`` instead of ``data``.
"""
from __future__ import annotations

import base64
import re

from flask import Response, request

from ..kit import Emulation
from ..seed import iso_ms
from ..state import DEFAULT_X_BEARER
from . import json_response, root_url, state

USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
USER_FIELDS = ("affiliation", "connection_status", "created_at", "description", "entities", "id",
               "is_identity_verified", "location", "most_recent_tweet_id", "name",
               "parody", "pinned_tweet_id", "profile_banner_url", "profile_image_url",
               "protected", "public_metrics", "receives_your_dm", "subscription",
               "subscription_type", "url", "username", "verified", "verified_followers_count",
               "verified_type", "withheld")
TWEET_FIELDS = ("article", "attachments", "author_id", "card_uri", "community_id",
                "context_annotations", "conversation_id", "created_at", "display_text_range",
                "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
                "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics",
                "note_tweet", "organic_metrics", "possibly_sensitive", "promoted_metrics",
                "public_metrics", "referenced_tweets", "reply_settings", "scopes", "source",
                "text", "withheld")


class X(Emulation):
    name, prefix = "x", "/x"
    keys = (DEFAULT_X_BEARER,)      # app-only bearer tokens (POST /_sandbox/x/tokens adds one)
    # App-only limits per 15-minute window, per endpoint.
    limits = {"tweets": (1500, 900), None: (300, 900)}
    rate_header_names = ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")

    def error_body(self, status, message, code=None):
        """X's RFC 7807 problem (``Problem`` in its OpenAPI description)."""
        return {"title": message, "type": "about:blank", "status": status, "detail": message}

    def not_found(self) -> Response:
        return json_response({"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}, 404)


PROVIDER = X()
bp = PROVIDER.bp


def invalid(parameter: str, value: str, message: str) -> Response:
    return json_response({"errors": [{"parameters": {parameter: [value]}, "message": message}],
                          "title": "Invalid Request",
                          "detail": "One or more parameters to your request was invalid.",
                          "type": INVALID_REQUEST}, 400)


def fields_arg(name: str, allowed: tuple) -> list[str] | Response:
    raw = request.args.get(name)
    if raw is None:
        return []
    values = [v for v in raw.split(",") if v]
    for value in values:
        if value not in allowed:
            return invalid(name, value, f"The `{name}` query parameter value [{value}] is not "
                                        f"one of [{','.join(allowed)}]")
    return values


def not_found_error(value: str, parameter: str) -> dict:
    return {"value": value, "detail": f"Could not find user with {parameter}: [{value}].",
            "title": "Not Found Error", "resource_type": "user", "parameter": parameter,
            "resource_id": value, "type": NOT_FOUND}


def user_json(user: dict, fields: list[str]) -> dict:
    out = {"id": user["id"], "name": user["name"], "username": user["username"]}
    optional = {
        "created_at": lambda: iso_ms(user["created"]),
        "description": lambda: user["description"],
        "profile_image_url": lambda: f"{root_url()}/_sandbox/avatars/x-{user['id']}.svg",
        "public_metrics": lambda: dict(user["public_metrics"]),
        "verified": lambda: user["verified"],
        "verified_type": lambda: "business" if user["verified"] else "none",
        "protected": lambda: False,
        "location": lambda: user["location"],
        "url": lambda: "",
    }
    for field in fields:
        if field in optional:
            out[field] = optional[field]()
    return out


def tweet_json(user: dict, tweet: dict, fields: list[str]) -> dict:
    out = {"id": tweet["id"], "text": tweet["text"], "edit_history_tweet_ids": [tweet["id"]]}
    optional = {
        "created_at": lambda: iso_ms(tweet["created"]),
        "author_id": lambda: user["id"],
        "conversation_id": lambda: tweet["id"],
        "lang": lambda: tweet["lang"],
        "public_metrics": lambda: dict(tweet["metrics"]),
        "possibly_sensitive": lambda: False,
        "reply_settings": lambda: "everyone",
    }
    for field in fields:
        if field in optional:
            out[field] = optional[field]()
    return out


def encode_token(user_id: str, after_id: int) -> str:
    """A token names the last post of the page (X's tokens are opaque, and stay valid when
    posts before them are deleted): the next page holds the posts older than it."""
    raw = f"{user_id}:{after_id}".encode()
    return base64.b32encode(raw).decode().rstrip("=").lower()


def decode_token(token: str, user_id: str) -> int | None:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        owner, _, after_id = base64.b32decode(padded).decode().partition(":")
        return int(after_id) if owner == user_id and int(after_id) > 0 else None
    except (ValueError, UnicodeDecodeError):
        return None


# -- endpoints -------------------------------------------------------------------------------

@PROVIDER.get("/2/tweets", bucket="tweets")
def tweets_by_ids(principal):
    """Posts by id (``ids``: 1 to 100, comma separated); ids not found come back in ``errors``."""
    raw = request.args.get("ids", "")
    ids = [part for part in raw.split(",") if part]
    if not ids or len(ids) > 100 or not all(part.isdigit() for part in ids):
        return invalid("ids", raw, "The `ids` query parameter value [" + raw + "] is not valid: "
                                   "give 1 to 100 comma-separated post ids")
    fields, user_fields = fields_arg("tweet.fields", TWEET_FIELDS), fields_arg("user.fields", USER_FIELDS)
    for answer in (fields, user_fields):
        if isinstance(answer, Response):    # an unknown field name: X's 400
            return answer
    x = state().data.x
    data, errors, authors = [], [], {}
    for tweet_id in ids:
        found = x.lookup(int(tweet_id))
        if found is None:
            errors.append({"value": tweet_id, "detail": f"Could not find tweet with ids: [{tweet_id}].",
                           "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                           "resource_id": tweet_id, "type": NOT_FOUND})
            continue
        user, created = found
        authors[user["id"]] = user
        data.append(tweet_json(user, x.tweet(user, int(tweet_id), created), fields))
    body: dict = {}
    if data:
        body["data"] = data
        if "author_id" in request.args.get("expansions", "").split(","):
            body["includes"] = {"users": [user_json(u, user_fields) for u in authors.values()]}
    if errors:
        body["errors"] = errors
    return json_response(body)


@PROVIDER.get("/2/users/by/username/<username>", bucket="users")
def user_by_username(principal, username):
    """Resolve a handle: known seeded accounts, and any valid ``sandbox_*`` handle."""
    if not USERNAME_RE.match(username):
        return invalid("username", username, f"The `username` query parameter value "
                                              f"[{username}] does not match ^[A-Za-z0-9_]{{1,15}}$")
    fields = fields_arg("user.fields", USER_FIELDS)
    if isinstance(fields, Response):
        return fields
    user = state().data.x.by_username(username)
    if user is None:
        return json_response({"errors": [not_found_error(username, "username")]})
    return json_response({"data": user_json(user, fields)})


@PROVIDER.get("/2/users/<user_id>", bucket="users")
def user_by_id(principal, user_id):
    if not user_id.isdigit():
        return invalid("id", user_id, f"The `id` query parameter value [{user_id}] does not "
                                      "match ^[0-9]{1,19}$")
    fields = fields_arg("user.fields", USER_FIELDS)
    if isinstance(fields, Response):
        return fields
    user = state().data.x.by_id(user_id)
    if user is None:
        return json_response({"errors": [not_found_error(user_id, "id")]})
    return json_response({"data": user_json(user, fields)})


@PROVIDER.get("/2/users/<user_id>/tweets", bucket="tweets")
def user_tweets(principal, user_id):
    """A user's posts, newest first (max_results 5..100, pagination_token, since_id, until_id)."""
    raw_max = request.args.get("max_results", "10")
    if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
        return invalid("max_results", raw_max, f"The `max_results` query parameter value "
                                               f"[{raw_max}] is not between 5 and 100")
    max_results = int(raw_max)
    for name in ("since_id", "until_id"):
        value = request.args.get(name)
        if value is not None and not value.isdigit():
            return invalid(name, value, f"The `{name}` query parameter value [{value}] does "
                                        "not match ^[0-9]{1,19}$")
    fields, user_fields = fields_arg("tweet.fields", TWEET_FIELDS), fields_arg("user.fields", USER_FIELDS)
    for answer in (fields, user_fields):
        if isinstance(answer, Response):    # an unknown field name: X's 400
            return answer
    x = state().data.x
    user = x.by_id(user_id)
    if user is None:
        return json_response({"errors": [not_found_error(user_id, "id")]})
    token = request.args.get("pagination_token")
    after_id = None
    if token:
        after_id = decode_token(token, user_id)
        if after_id is None:
            return invalid("pagination_token", token, f"The `pagination_token` query parameter "
                                                      f"value [{token}] is not valid")
    since_id = int(request.args.get("since_id") or 0)
    until_id = int(request.args["until_id"]) if request.args.get("until_id") else None
    if after_id is not None:
        until_id = after_id if until_id is None else min(until_id, after_id)
    timeline, lo, hi = x.timeline_bounds(user, since_id, until_id)
    chunk = timeline[lo:min(hi, lo + max_results)]
    meta: dict = {"result_count": len(chunk)}
    if chunk:
        meta["newest_id"] = str(chunk[0][0])
        meta["oldest_id"] = str(chunk[-1][0])
    if lo + max_results < hi:
        meta["next_token"] = encode_token(user_id, chunk[-1][0])
    body: dict = {}
    if chunk:
        body["data"] = [tweet_json(user, x.tweet(user, tid, created), fields)
                        for tid, created in chunk]
        if "author_id" in request.args.get("expansions", "").split(","):
            body["includes"] = {"users": [user_json(user, user_fields)]}
    body["meta"] = meta
    return json_response(body)
