"""The fidelity checks can fail: deliberately wrong bodies are rejected, for every provider's
description, and the allowances and undocumented-field list are as narrow as they claim."""
from __future__ import annotations

import copy

import pytest

from . import descriptions
from .validation import Allow, problems, undocumented

NOW = "2024-05-01T10:00:00Z"


def github_issue() -> dict:
    user = {"login": "octo", "id": 1, "node_id": "U_1", "avatar_url": "https://example.com/a.png",
            "gravatar_id": "", "url": "https://api.example.com/users/octo",
            "html_url": "https://example.com/octo", "followers_url": "https://x.test/f",
            "following_url": "https://x.test/f{/other_user}", "gists_url": "https://x.test/g",
            "starred_url": "https://x.test/s", "subscriptions_url": "https://x.test/s",
            "organizations_url": "https://x.test/o", "repos_url": "https://x.test/r",
            "events_url": "https://x.test/e", "received_events_url": "https://x.test/r",
            "type": "User", "site_admin": False}
    base = "https://api.example.com/repos/o/r"
    return {"id": 1, "node_id": "I_1", "url": f"{base}/issues/1", "repository_url": base,
            "labels_url": f"{base}/issues/1/labels{{/name}}", "comments_url": f"{base}/issues/1/comments",
            "events_url": f"{base}/issues/1/events", "html_url": "https://example.com/o/r/issues/1",
            "number": 1, "state": "open", "title": "A bug", "body": None, "user": user,
            "labels": [], "assignee": None, "assignees": [], "milestone": None, "locked": False,
            "active_lock_reason": None, "comments": 0, "closed_at": None, "created_at": NOW,
            "updated_at": NOW, "author_association": "OWNER", "state_reason": None}


@pytest.fixture(scope="module")
def issues_schema():
    schema, _ = descriptions.github_response("GET", "/repos/{owner}/{repo}/issues", 200)
    return schema


def test_a_conforming_github_issue_passes(issues_schema):
    assert problems(issues_schema, [github_issue()]) == []


@pytest.mark.parametrize("change, expected", [
    (lambda i: i.pop("number"), "'number' is a required property"),
    (lambda i: i.update(number="1"), "'1' is not of type 'integer'"),
    (lambda i: i.update(state_reason="lazy"), "at /*/state_reason"),               # enum
    (lambda i: i.update(author_association="BOSS"), "at /*/author_association"),   # enum
    (lambda i: i.update(title=None), "None is not of type 'string'"),              # not nullable
    (lambda i: i.update(created_at="yesterday"), "at /*/created_at"),              # date-time
    (lambda i: i.update(html_url="not a url"), "at /*/html_url"),                  # uri
    (lambda i: i["user"].pop("login"), "at /*/user"),                              # nested, nullable ref
    (lambda i: i.update(labels={}), "at /*/labels"),
])
def test_a_wrong_github_issue_is_rejected(issues_schema, change, expected):
    issue = github_issue()
    change(issue)
    found = problems(issues_schema, [issue])
    assert found and any(expected in line for line in found), found


def test_null_is_accepted_where_github_says_nullable(issues_schema):
    issue = github_issue()
    issue.update(body=None, closed_at=None, milestone=None, assignee=None)
    assert problems(issues_schema, [issue]) == []


def test_an_undocumented_field_is_listed_not_rejected(issues_schema):
    issue = github_issue()
    issue["colour"] = "teal"
    assert problems(issues_schema, [issue]) == []
    assert undocumented(issues_schema, [issue]) == ["/*/colour"]


def test_pipedrive_models_are_enforced():
    schema = descriptions.pipedrive_schema("v1:GetLeadsResponse")
    lead = {"id": "adf21080-0e10-11eb-879b-05d71fb426ec", "title": "Lead", "owner_id": 1,
            "creator_id": 1, "label_ids": [], "person_id": 1, "organization_id": None,
            "source_name": "API", "origin": "API", "origin_id": None, "channel": None,
            "channel_id": None, "is_archived": False, "was_seen": True,
            "value": {"amount": 10, "currency": "EUR"}, "expected_close_date": None,
            "next_activity_id": None, "add_time": NOW, "update_time": NOW, "visible_to": "3",
            "cc_email": "x@pipedrivemail.com", "source_deal_id": None}
    assert problems(schema, {"success": True, "data": [lead]}) == []
    wrong = copy.deepcopy(lead)
    wrong["is_archived"] = 0
    assert any("is_archived" in p for p in problems(schema, {"success": True, "data": [wrong]}))
    assert problems(schema, {"success": "yes", "data": [lead]})


def test_an_allowance_covers_only_its_path_and_its_values():
    schema = descriptions.pipedrive_schema("v1:GetLeadsResponse")
    empty = Allow("/data", {"type": "null"}, "test")
    assert problems(schema, {"success": True, "data": None})
    assert problems(schema, {"success": True, "data": None}, allow=(empty,)) == []
    assert problems(schema, {"success": True, "data": "nothing"}, allow=(empty,))
    assert problems(schema, {"success": None, "data": None}, allow=(empty,))


def test_the_recents_alternatives_the_sdk_types_lost_are_restored():
    schema = descriptions.pipedrive_schema("v1:GetRecentsResponse")
    deal = {"item": "deal", "id": 1, "data": {"id": 1, "title": "Deal", "creator_user_id": 7,
                                               "user_id": 7, "person_id": None, "org_id": 3}}
    assert problems(schema, {"success": True, "data": [deal]}) == []
    embedded = copy.deepcopy(deal)
    embedded["data"]["user_id"] = {"id": 7, "name": "Owner", "value": 7}
    assert problems(schema, {"success": True, "data": [embedded]})


def test_x_models_are_enforced():
    schema = descriptions.x_schema("Get2UsersByUsernameUsernameResponse")
    user = {"id": "12", "name": "jack", "username": "jack",
            "public_metrics": {"followers_count": 1, "following_count": 2, "listed_count": 3,
                               "tweet_count": 4}}
    assert problems(schema, {"data": user}) == []
    assert problems(schema, {"data": {**user, "created_at": "last year"}})
    assert problems(schema, {"data": {k: v for k, v in user.items() if k != "username"}})
    metrics = {**user["public_metrics"], "tweet_count": "4"}
    assert problems(schema, {"data": {**user, "public_metrics": metrics}})
    assert problems(schema, {"data": {**user, "public_metrics": {"tweet_count": 4}}})
    assert problems(schema, {"errors": [{"detail": "no title or type"}]})


def test_gmail_discovery_schemas_are_enforced():
    schema = descriptions.google_schema("gmail.users.messages.get")
    message = {"id": "18c", "threadId": "18c", "labelIds": ["INBOX"], "snippet": "Hi",
               "historyId": "1234", "internalDate": "1700000000000", "sizeEstimate": 10}
    assert problems(schema, message) == []
    assert problems(schema, {**message, "internalDate": 1700000000000})    # int64 is a string
    assert problems(schema, {**message, "historyId": "12a"})
    assert problems(schema, {**message, "sizeEstimate": "10"})
    assert problems(schema, {**message, "raw": "not base64!"})


def test_a_missing_description_is_an_error_not_a_pass():
    with pytest.raises(descriptions.MissingDescription):
        descriptions.github_response("GET", "/repos/{owner}/{repo}/no-such-thing", 200)
    with pytest.raises(descriptions.MissingDescription):
        descriptions.github_response("GET", "/user", 418)
    with pytest.raises(descriptions.MissingDescription):
        descriptions.pipedrive_schema("v1:NoSuchModel")
