"""Every sandbox endpoint the connectors call, requested over real HTTP and validated against the
provider's own published description: GitHub's OpenAPI, Pipedrive's and X's SDK types, Google's
discovery documents (see descriptions.py for the packages, validation.py for how strictly).

Adding an endpoint is one line in CASES, e.g.

    pipedrive("GET", "/v2/deals", {"limit": 5}, schema="v2:GetDealsResponse", allow=(PIPEDRIVE_LAST_CURSOR,)),

A known difference between a description and the real provider is an Allow on the case, with
the reason; undocumented fields the real provider sends are ``extras``.
"""
from __future__ import annotations

import functools
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from .conform import validate as problems_of
from .harness import WIRES, Case, Client, header_problems
from .validation import Allow, problems, undocumented


def case(provider):
    def make(method, path, params=None, **kw):
        return Case(provider, method, path, params or {}, **kw)
    return make


github, pipedrive, x, google, slack = case("github"), case("pipedrive"), case("x"), case("google"), case("slack")
github, pipedrive, x, google, notion = case("github"), case("pipedrive"), case("x"), case("google"), case("notion")
github, pipedrive, x, google = case("github"), case("pipedrive"), case("x"), case("google")
jira, confluence, gitlab, discord = case("jira"), case("confluence"), case("gitlab"), case("discord")
hubspot, salesforce = case("hubspot"), case("salesforce")
freshdesk, intercom, figma = case("freshdesk"), case("intercom"), case("figma")
github, pipedrive, x, google, graph = case("github"), case("pipedrive"), case("x"), case("google"), case("graph")

RATE_LIMITED = {"kind": "rate_limit", "retry_after": 30}
# Google Drive and Calendar records of the seeded sandbox (seed 42), and what the connector asks.
DRIVE_FILE, CALENDAR, CALENDAR_EVENT = "1SbxF000001", "sandbox.user@example.com", "evt000004"
HOLIDAYS = "en.usa%23holiday@group.v.calendar.google.com"
GMAIL_HISTORY = "100168"            # the seeded mailbox's newest historyId
DRIVE_LISTING = {"q": "trashed = false", "fields": "nextPageToken, files(id, name, mimeType, parents, createdTime, "
                 "modifiedTime, trashed, webViewLink, size, owners(emailAddress, displayName), "
                 "permissions(type, role, emailAddress, domain, allowFileDiscovery))",
                 "supportsAllDrives": "true", "includeItemsFromAllDrives": "true"}

# -- known differences between a description and the real API, with the reason --------------

# Pipedrive v1 answers a list page with nothing on it with "data": null, where its description
# says an array (/leads answers []). Connectors must cope with both.
PIPEDRIVE_EMPTY_PAGE = Allow("/data", {"type": "null"},
                             "real Pipedrive v1 answers an empty list page with data: null")
# The users embedded in v1 deals (creator_user_id, user_id) say has_pic 0 or 1: Pipedrive's own
# earlier SDK documented it as a number ("0 = No picture, 1 = Has picture", client-nodejs
# docs/UserDataWithId.md) and recorded responses show 0; the current models say boolean.
PIPEDRIVE_HAS_PIC = tuple(
    Allow(f"{where}/{user}/has_pic", {"enum": [0, 1]}, "real Pipedrive sends has_pic as 0/1")
    for where in ("/data", "/data/*") for user in ("creator_user_id", "user_id"))
# Real v1 activities carry null for every unset field, where the SDK's Activity types many of
# them as plain strings/numbers (a recorded real activity shows all of these null).
PIPEDRIVE_ACTIVITY_NULLS = tuple(
    Allow(f"{where}/{name}", {"type": "null"}, "real Pipedrive sends null for an unset field")
    for where in ("/data", "/data/*", "/data/*/data")
    for name in ("reference_type", "reference_id", "conference_meeting_client",
                 "conference_meeting_url", "conference_meeting_id", "last_notification_time",
                 "last_notification_user_id", "calendar_sync_include_context", "location",
                 "update_user_id", "gcal_event_id", "google_calendar_id", "google_calendar_etag",
                 "source_timezone", "rec_rule", "rec_rule_extension", "rec_master_activity_id",
                 "location_subpremise", "location_street_number", "location_route",
                 "location_sublocality", "location_locality", "location_admin_area_level_1",
                 "location_admin_area_level_2", "location_country", "location_postal_code",
                 "location_formatted_address", "series", "file"))
# The last SDK release describing GET /v1/deals/{id} typed these deal fields as plain strings;
# the current SDK's Deal (same fields) marks them nullable, as real deals without them are.
PIPEDRIVE_DEAL_NULLS = tuple(
    Allow(f"/data/{name}", {"type": "null"}, "nullable in the current SDK's Deal model")
    for name in ("first_won_time", "won_time", "lost_time", "label", "last_incoming_mail_time",
                 "last_outgoing_mail_time", "next_activity_date", "next_activity_time",
                 "next_activity_duration", "next_activity_note", "next_activity_subject",
                 "next_activity_type"))
# Undocumented fields real Pipedrive v1 sends: offset pagination of v1 lists (Pipedrive's
# pagination docs); related_objects keyed by id (the description names the map's example key);
# an activity's type_name, lead_title and is_recurring (in the "old v1 activity object" of
# Pipedrive's v2 migration guide); the label_ids and owner_name of a deal's embedded org.
PIPEDRIVE_PAGINATION = ("/additional_data/pagination", "/additional_data/pagination/next_start")
PIPEDRIVE_RELATED = ("/related_objects/*",)
PIPEDRIVE_ACTIVITY_EXTRAS = ("/data/type_name", "/data/lead_title", "/data/is_recurring",
                             "/data/*/type_name", "/data/*/lead_title", "/data/*/is_recurring")
PIPEDRIVE_DEAL_EXTRAS = ("/data/org_id/label_ids", "/data/org_id/owner_name",
                         "/data/*/org_id/label_ids", "/data/*/org_id/owner_name") + PIPEDRIVE_RELATED
# Pipedrive's error bodies carry errorCode and error_info (and data/additional_data: null) next
# to the success/error pair its description lists.
PIPEDRIVE_ERROR_EXTRAS = ("/errorCode", "/error_info", "/data", "/additional_data")
# Pipedrive's cursor pagination docs (core-api-concepts-pagination): "The value of the next_cursor
# field will be null if you have reached the end of the dataset"; the v2 SDK types it as string.
PIPEDRIVE_LAST_CURSOR = Allow("/additional_data/next_cursor", {"type": "null"},
                              "real Pipedrive v2 answers next_cursor: null on the last page")
# A stage without rotting has rotten_days null (the last SDK to describe v1 /stages says number).
PIPEDRIVE_STAGE_ROTTEN = Allow("/data/*/rotten_days", {"type": "null"},
                               "rotten_days is null while rotten_flag is false")

# GitHub's error bodies all carry "status" (its basic-error schema names it; validation-error,
# the 422 body, predates it).
GITHUB_422_EXTRAS = ("/status",)

# X: fields added after twitter-api-sdk's description (users' like_count and media_count,
# posts' bookmark_count and impression_count, all in X's current docs), and the fields of
# the not-found problem (a ResourceNotFoundProblem, where the response names plain Problem).
X_METRICS = ("/data/public_metrics/like_count", "/data/public_metrics/media_count",
             "/data/*/public_metrics/bookmark_count", "/data/*/public_metrics/impression_count")
X_NOT_FOUND = ("/errors/*/parameter", "/errors/*/resource_id", "/errors/*/resource_type",
               "/errors/*/value")

# Microsoft Graph. Its error bodies' innerError carries date, request-id and client-request-id
# (learn.microsoft.com/graph/errors), which publicInnerError does not name. A message's sender
# is a teamworkUserIdentity (its @odata.type; chatmessage-delta's examples), with tenantId, where
# the types say identity. SharePoint names a permission's user with their e-mail (a
# sharePointIdentity) where the types say identity. A group-connected site's library is owned by
# the group (owner.group, as SharePoint answers it; the types say identitySet).
GRAPH_ERROR = ("/error/innerError/date", "/error/innerError/request-id", "/error/innerError/client-request-id")
GRAPH_SENDER = ("*/from/user/userIdentityType", "*/from/user/tenantId")
GRAPH_MAIL_DELTA = "id,subject,from,toRecipients,receivedDateTime,lastModifiedDateTime,body,parentFolderId"
TEAMS_CHANNEL = "/teams/{team_id}/channels/{channel_id}"


def _seeded():
    """Ids the cases name, from the same seeded data the sandbox serves (conftest.py: SEED 42,
    SCALE 25): a lead, a pull request and a comment of octo-sandbox/tributary-demo, and two
    posts of @acme's timeline."""
    from sandbox.seed import SeedData

    data = SeedData(42, 25)
    repo = data.github.repo("octo-sandbox", "tributary-demo")
    issues = data.github.issues(repo)
    pull = next(i.number for i in issues.by_number.values() if i.is_pr)
    acme = data.x.by_username("acme")
    posts = ",".join(str(tid) for tid, _ in data.x.timeline(acme)[:2])
    return data.pipedrive.lead(1)["id"], pull, issues.comments[0].id, posts


LEAD_ID, PULL_NUMBER, COMMENT_ID, POSTS = _seeded()


def _access():
    """A private repository of the signed-in user with a collaborator besides its owner, and a
    person who is nobody's collaborator there."""
    from sandbox.seed import SeedData

    gh = SeedData(42, 25).github
    repo = next(r for r in gh.repos() if r["private"] and len(gh.grants(r)) > 1)
    collaborator = next(p for p in gh.grants(repo) if p)
    outsider = next(p for p in range(11, len(gh.people)) if all(p not in gh.grants(r) for r in gh.repos()))
    return ({"owner": "octo-sandbox", "repo": repo["name"]}, gh.people[collaborator]["login"],
            gh.people[outsider]["login"])


PRIVATE_REPO, COLLABORATOR, OUTSIDER = _access()


def _slack_thread() -> str:
    """The ``ts`` of a person's message in #general with thread replies (SEED 42, SCALE 25)."""
    from sandbox.kit import Collection
    from sandbox.providers.slack import PROVIDER

    messages, replies = (Collection("slack", n, PROVIDER.collections[n], 42, 25) for n in ("messages", "replies"))
    parents = {str(r["parent"]) for r in replies.rows.values()}
    top = next(m for m in messages.rows.values()
               if m["channel"] == "C0GENERAL1" and m["id"] in parents and m["kind"] == "user")
    return f"{top['created']}.{int(top['id']):06d}"


SLACK_THREAD = _slack_thread()
# Real Slack answers oauth.v2.access with "enterprise": null outside Enterprise Grid (the
# installing-with-oauth example response); @slack/web-api types it as an object.
SLACK_NO_ENTERPRISE = Allow("/enterprise", {"type": "null"}, "real Slack sends enterprise: null outside Grid")
# auth.revoke answers {"ok": true, "revoked": true} (its method page's example; client models such
# as slack-rust's RevokeResponse carry it); @slack/web-api's sample-generated type lacks it.
SLACK_REVOKED = ("/revoked",)
PLATFORM = {"owner": "tributary-labs", "repo": "platform"}
# The signed-in user only pulls tributary-labs/vault: GitHub answers 403 "Must have push access to
# view repository collaborators." (a basic-error body; the operation documents only 200 and 404),
# and 404 for a team that is not there (the team-members operation documents only 200).
VAULT = {"owner": "tributary-labs", "repo": "vault"}
TWEET_IDS = POSTS + ",1999999999999999999"  # the last one is nobody's: it comes back in errors
# What connectors/jira.py and confluence.py ask for; group engineering's id (sandbox/providers/atlassian.py).
JIRA_FIELDS = "summary,description,status,issuetype,priority,assignee,reporter,labels,created,updated,comment,project,security"
CONFLUENCE_PAGE = ("body.storage,version,history,space,ancestors,restrictions.read.restrictions.user,"
                   "restrictions.read.restrictions.group")
ENGINEERING = "df5d5d51-6e73-54d3-a7eb-ffb8763611fc"

# GitLab: @gitbeaker/core types as plain TypeScript what GitLab documents as nullable and sends as
# null when unset (docs.gitlab.com/api/issues: "due_date": null, "milestone": null; members:
# "expires_at": null; users: "public_email" may be null...).
GITLAB_NULLS = tuple(
    Allow(f"{where}/{name}", {"type": "null"}, "GitLab sends null where this is unset")
    for where in ("", "/*") for name in ("due_date", "milestone", "weight", "closed_at", "expires_at",
                                          "group_saml_identity")) + tuple(
    # gitbeaker types closed_by as a string; GitLab sends the user who closed it (or null).
    Allow(f"{where}/closed_by", {"type": ["object", "null"], "required": ["id", "username"]},
          "GitLab's closed_by is a user, as merged_by is") for where in ("", "/*"))
# Fields GitLab sends that gitbeaker's types leave out: a user summary's locked, the deprecated
# tag_list, assignee and issue_type kept for compatibility, closed_as_duplicate_of among an
# issue's _links, a note's type, confidential and internal, a member's created_at and public_email.
GITLAB_USER = ("/locked",)
GITLAB_PROJECT = ("/tag_list", "/*/tag_list")
GITLAB_MEMBER = ("/*/locked", "/*/created_at", "/*/public_email")
GITLAB_THREAD = tuple(f"{where}/{name}" for where in ("", "/*") for name in (
    "author/locked", "closed_by/locked", "merged_by/locked", "assignee", "issue_type", "_links/closed_as_duplicate_of"))
GITLAB_NOTE = ("/*/author/locked", "/*/type", "/*/confidential", "/*/internal")

# Notion (sandbox/providers/notion.py): page 1 is a page, page 2 a row of data source 2; page 1's
# block 5 is a list item with a child, block 10 a table.
NOTION_NEWEST = {"timestamp": "last_edited_time", "direction": "descending"}
NOTION_PAGE, NOTION_ROW = "00000001-0000-4000-8000-000000000001", "00000001-0000-4000-8000-000000000002"
NOTION_LIST_ITEM, NOTION_TABLE = "00000002-0005-4000-8000-000000000001", "00000002-000a-4000-8000-000000000001"

# HubSpot (sandbox/providers/hubspot.py; @hubspot/api-client's models). Its error bodies carry
# "status": "error" beside the ModelError fields (developers.hubspot.com, "Error handling": every
# example error body starts with it); a 429 adds errorType, policyName and requestId ("Usage
# guidelines": the 429 example). The v4 association reads answer toObjectId as a number
# (developers.hubspot.com, associations v4 "Retrieve associated records" examples:
# "toObjectId": 12345, and "label": null for an association without a label), where the SDK's
# model says string for both. A 429's body is no ModelError (no category): checked on its own below.
HUBSPOT_ERROR = ("/status",)
HUBSPOT_TO_ID = (Allow("/results/*/to/*/toObjectId", {"type": "integer"}, "HubSpot answers toObjectId as a number"),
                 Allow("/results/*/to/*/associationTypes/*/label", {"type": "null"},
                       "an unlabeled association's label is null in HubSpot's examples"))
HUBSPOT_SEARCH = {"sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                  "properties": ["dealname", "amount", "hubspot_owner_id"], "limit": 3,
                  "filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                                                 "value": "1704067200000"}]}]}

# Salesforce (sandbox/providers/salesforce.py; @jsforce/jsforce-node's types). A SOQL row carries
# the parent records a query names (Owner.Name) nested under the relationship's name, which
# jsforce describes among the object's ParentReferences, not its Fields. The identity URL answers
# more than jsforce's IdentityInfo names (help.salesforce.com, "Identity URLs": asserted_user,
# email_verified, first_name, last_name, timezone, active, locale, utcOffset, last_modified_date,
# is_app_installed are in its example).
SALESFORCE_RELATIONS = tuple(f"/records/*/{r}" for r in ("Owner", "Account", "Who", "What", "Contact"))
SALESFORCE_IDENTITY = tuple(f"/{f}" for f in ("asserted_user", "email_verified", "first_name", "last_name", "timezone",
                                               "active", "locale", "utcOffset", "last_modified_date", "is_app_installed"))
SALESFORCE_API = "/services/data/v62.0"


def soql(kind: str, fields: str) -> dict:
    return {"q": f"SELECT Id, {fields}, OwnerId, Owner.Name, Owner.Email, CreatedDate, LastModifiedDate, SystemModstamp "
                 f"FROM {kind} WHERE SystemModstamp >= 2024-01-01T00:00:00Z ORDER BY SystemModstamp ASC, Id ASC"}


# Freshdesk (sandbox/providers/freshdesk.py): what connectors/freshdesk.py asks. An agent's
# group_ids, role_ids, skill_ids and focus_mode are in Freshdesk's "View an Agent" reference but
# not in airbyte-source-freshdesk's agents schema; a ticket or contact read by id says whether it
# is trashed or soft-deleted ("deleted", the reference's "View a Ticket" and "View a Contact").
FRESHDESK_AGENT = ("/group_ids", "/role_ids", "/skill_ids", "/focus_mode")
FRESHDESK_TICKETS = {"updated_since": "1970-01-01T00:00:00Z", "order_by": "updated_at", "order_type": "asc",
                     "include": "description", "per_page": 10}

# Intercom (sandbox/providers/intercom.py): the searches connectors/intercom.py sends.
INTERCOM_SEARCH = {"query": {"field": "updated_at", "operator": ">", "value": 0},
                   "sort": {"field": "updated_at", "order": "ascending"}, "pagination": {"per_page": 5}}

CASES = [
    # -- GitHub REST: the OpenAPI operation is the method and path template --------------------
    github("GET", "/user"),
    github("GET", "/user", auth=False, status=401),
    github("GET", "/user/repos", {"sort": "full_name", "direction": "asc", "per_page": 5},
           links=("next", "last")),
    github("GET", "/user/repos", {"per_page": 5}, page=2, links=("prev", "next", "last", "first")),
    github("GET", "/user/repos", {"per_page": 100}, links=()),
    github("GET", "/user/repos", {"per_page": 5, "page": 99}, links=("prev", "first")),
    github("GET", "/user/repos", {"sort": "sideways"}, status=422, extras=GITHUB_422_EXTRAS),
    github("GET", "/repos/{owner}/{repo}"),
    github("GET", "/repos/{owner}/{repo}", path_args={"repo": "no-such-repo"}, status=404),
    github("GET", "/repos/{owner}/{repo}/issues",
           {"state": "all", "sort": "updated", "direction": "asc", "per_page": 10,
            "since": "2024-01-01T00:00:00Z"}, links=("next", "last")),
    github("GET", "/repos/{owner}/{repo}/issues", {"state": "all", "per_page": 10}, page=3),
    github("GET", "/repos/{owner}/{repo}/issues", {"since": "2099-01-01T00:00:00Z"}, links=()),
    github("GET", "/repos/{owner}/{repo}/issues", {"since": "last tuesday"}, status=422,
           extras=GITHUB_422_EXTRAS),
    github("GET", "/repos/{owner}/{repo}/issues", path_args={"repo": "no-such-repo"}, status=404),
    github("GET", "/repos/{owner}/{repo}/issues", fault=RATE_LIMITED, status=429,
           schema="basic-error"),       # GitHub documents 429/403 rate-limit answers, not per operation
    github("GET", "/repos/{owner}/{repo}/issues", fault={**RATE_LIMITED, "status": 403}, status=403,
           schema="basic-error"),
    github("POST", "/repos/{owner}/{repo}/issues", json={"title": "Fidelity", "body": "Checked."},
           status=201),
    github("POST", "/repos/{owner}/{repo}/issues", json={"body": "no title"}, status=422,
           extras=GITHUB_422_EXTRAS),
    github("GET", "/repos/{owner}/{repo}/issues/{issue_number}"),
    github("GET", "/repos/{owner}/{repo}/issues/{issue_number}", path_args={"issue_number": 99999},
           status=404),
    github("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", json={"state": "closed"}),
    github("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}", json={"state": "sideways"},
           status=422, extras=GITHUB_422_EXTRAS),
    github("GET", "/repos/{owner}/{repo}/pulls", {"state": "all", "sort": "updated",
                                                  "direction": "desc", "per_page": 5}),
    github("GET", "/repos/{owner}/{repo}/issues/comments",
           {"sort": "updated", "direction": "asc", "per_page": 10, "since": "2024-01-01T00:00:00Z"}),
    github("GET", "/repos/{owner}/{repo}/issues/comments", {"per_page": 20}, page=2),
    github("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    github("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", json={"body": "Noted."},
           status=201),
    github("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", path_args={"pull_number": PULL_NUMBER}),
    github("GET", "/repos/{owner}/{repo}/pulls/{pull_number}", path_args={"pull_number": 99999}, status=404),
    github("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", path_args={"comment_id": COMMENT_ID}),
    github("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}", path_args={"comment_id": 1}, status=404),
    github("DELETE", "/repos/{owner}/{repo}/issues/comments/{comment_id}",
           path_args={"comment_id": COMMENT_ID + 1}, status=204),
    github("GET", "/repos/{owner}/{repo}", path_args={"owner": "octo-community", "repo": "awesome-connectors"}),
    github("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", json={}, status=422,
           extras=GITHUB_422_EXTRAS),
    # -- GitHub: who may read a repository (collaborators, teams, team members) ------------------
    github("GET", "/repos/{owner}/{repo}/collaborators", {"affiliation": "all", "per_page": 3},
           path_args=PLATFORM, links=("next", "last")),
    github("GET", "/repos/{owner}/{repo}/collaborators", {"affiliation": "all", "per_page": 3}, page=2,
           path_args=PLATFORM, links=("prev", "next", "last", "first")),
    github("GET", "/repos/{owner}/{repo}/collaborators", {"affiliation": "outside"}, path_args=PLATFORM, links=()),
    github("GET", "/repos/{owner}/{repo}/collaborators", {"affiliation": "direct"}, path_args=PRIVATE_REPO),
    github("GET", "/repos/{owner}/{repo}/collaborators", path_args=VAULT, status=403, schema="basic-error"),
    github("GET", "/repos/{owner}/{repo}/collaborators", path_args={"repo": "no-such-repo"}, status=404),
    github("GET", "/repos/{owner}/{repo}/teams", path_args=PLATFORM),
    github("GET", "/repos/{owner}/{repo}/teams", links=()),           # a user's repository has no teams
    github("GET", "/repos/{owner}/{repo}/teams", path_args={"repo": "no-such-repo"}, status=404),
    github("GET", "/orgs/{org}/teams/{team_slug}/members", {"per_page": 2}, links=("next", "last")),
    github("GET", "/orgs/{org}/teams/{team_slug}/members", {"role": "maintainer"}),
    github("GET", "/orgs/{org}/teams/{team_slug}/members", path_args={"team_slug": "no-such-team"}, status=404,
           schema="basic-error"),
    github("PUT", "/repos/{owner}/{repo}/collaborators/{username}", json={"permission": "pull"},
           path_args={"username": OUTSIDER}, status=201),                 # an invitation
    github("PUT", "/repos/{owner}/{repo}/collaborators/{username}", json={"permission": "admin"},
           path_args={**PRIVATE_REPO, "username": COLLABORATOR}, status=204),
    github("PUT", "/repos/{owner}/{repo}/collaborators/{username}", json={"permission": "push"},
           path_args={**PLATFORM, "username": OUTSIDER}, status=403),     # not an admin there
    github("PUT", "/repos/{owner}/{repo}/collaborators/{username}", json={"permission": "owner"},
           path_args={"username": OUTSIDER}, status=422, extras=GITHUB_422_EXTRAS),
    github("DELETE", "/repos/{owner}/{repo}/collaborators/{username}",
           path_args={**PRIVATE_REPO, "username": COLLABORATOR}, status=204),
    github("DELETE", "/repos/{owner}/{repo}/collaborators/{username}",
           path_args={**PLATFORM, "username": OUTSIDER}, status=403),

    # -- Pipedrive v1 (current SDK models; v1-deprecated: the last SDK describing the endpoint) --
    pipedrive("GET", "/v1/users/me", schema="v1:GetCurrentUserResponse"),
    pipedrive("GET", "/v1/users/me", auth=False, status=401, schema="v1:FailResponse",
              extras=PIPEDRIVE_ERROR_EXTRAS),
    pipedrive("GET", "/v1/users", schema="v1:GetUsersResponse"),
    pipedrive("GET", "/v1/roles", {"limit": 500}, schema="v1:GetRolesResponse"),
    pipedrive("GET", "/v1/deals", {"status": "all_not_deleted", "sort": "id ASC", "limit": 10},
              schema="v1:GetDealsResponse", allow=PIPEDRIVE_HAS_PIC,
              extras=PIPEDRIVE_DEAL_EXTRAS + PIPEDRIVE_PAGINATION),
    pipedrive("GET", "/v1/deals", {"limit": 10}, page=3, schema="v1:GetDealsResponse",
              allow=PIPEDRIVE_HAS_PIC, extras=PIPEDRIVE_DEAL_EXTRAS + PIPEDRIVE_PAGINATION),
    pipedrive("GET", "/v1/deals", {"start": 500}, schema="v1:GetDealsResponse",
              allow=(PIPEDRIVE_EMPTY_PAGE,), extras=PIPEDRIVE_PAGINATION + PIPEDRIVE_RELATED),
    pipedrive("GET", "/v1/deals", {"status": "sideways"}, status=400, schema="v1:FailResponse",
              extras=PIPEDRIVE_ERROR_EXTRAS),
    pipedrive("GET", "/v1/deals", fault=RATE_LIMITED, status=429, schema="v1:FailResponse",
              extras=PIPEDRIVE_ERROR_EXTRAS),
    pipedrive("GET", "/v1/deals/{id}", schema="v1-deprecated:GetDealResponse",
              allow=PIPEDRIVE_HAS_PIC + PIPEDRIVE_DEAL_NULLS, extras=PIPEDRIVE_DEAL_EXTRAS),
    pipedrive("GET", "/v1/deals/{id}", path_args={"id": 99999}, status=404,
              schema="v1:FailResponse", extras=PIPEDRIVE_ERROR_EXTRAS),
    pipedrive("PUT", "/v1/deals/{id}", json={"title": "Renewal", "value": 1200},
              schema="v1-deprecated:GetAddedDealResponse", allow=PIPEDRIVE_HAS_PIC,
              extras=PIPEDRIVE_DEAL_EXTRAS),
    pipedrive("PUT", "/v1/deals/{id}", path_args={"id": 4}, json={"visible_to": 1},
              schema="v1-deprecated:GetAddedDealResponse",
              allow=PIPEDRIVE_HAS_PIC, extras=PIPEDRIVE_DEAL_EXTRAS),
    pipedrive("PUT", "/v1/deals/{id}", json={"visible_to": 9}, status=400, schema="v1:FailResponse",
              extras=PIPEDRIVE_ERROR_EXTRAS),
    pipedrive("GET", "/v1/activities", {"user_id": 0, "limit": 10},
              schema="v1-deprecated:GetActivitiesResponse", allow=PIPEDRIVE_ACTIVITY_NULLS,
              extras=PIPEDRIVE_ACTIVITY_EXTRAS + PIPEDRIVE_PAGINATION),
    pipedrive("GET", "/v1/activities", {"user_id": 0, "start": 500},
              schema="v1-deprecated:GetActivitiesResponse", allow=(PIPEDRIVE_EMPTY_PAGE,),
              extras=PIPEDRIVE_PAGINATION),
    pipedrive("PUT", "/v1/activities/{id}", json={"done": 1, "note": "Called back."},
              schema="v1-deprecated:UpdateActivityResponse", allow=PIPEDRIVE_ACTIVITY_NULLS,
              extras=PIPEDRIVE_ACTIVITY_EXTRAS),
    pipedrive("GET", "/v1/leads", {"archived_status": "all", "sort": "update_time DESC", "limit": 10},
              schema="v1:GetLeadsResponse", extras=PIPEDRIVE_PAGINATION),
    pipedrive("GET", "/v1/leads", {"start": 500}, schema="v1:GetLeadsResponse",
              extras=PIPEDRIVE_PAGINATION),
    pipedrive("GET", "/v1/recents", {"items": "deal", "since_timestamp": "2024-01-01 00:00:00",
                                     "limit": 10}, schema="v1:GetRecentsResponse",
              extras=PIPEDRIVE_PAGINATION),
    pipedrive("GET", "/v1/recents", {"items": "activity", "since_timestamp": "2024-01-01 00:00:00",
                                     "limit": 10}, schema="v1:GetRecentsResponse",
              allow=PIPEDRIVE_ACTIVITY_NULLS, extras=PIPEDRIVE_PAGINATION),
    pipedrive("GET", "/v1/recents", {"items": "deal", "since_timestamp": "2099-01-01 00:00:00"},
              schema="v1:GetRecentsResponse", allow=(PIPEDRIVE_EMPTY_PAGE,)),
    pipedrive("GET", "/v1/recents", {"since_timestamp": "yesterday"}, status=400,
              schema="v1:FailResponse", extras=PIPEDRIVE_ERROR_EXTRAS),
    pipedrive("GET", "/v1/stages", schema="v1-deprecated:GetStagesResponse",
              allow=(PIPEDRIVE_STAGE_ROTTEN,), extras=("/additional_data",)),
    pipedrive("GET", "/v1/activityTypes", schema="v1:GetActivityTypesResponse"),
    pipedrive("GET", "/v1/leads/{id}", path_args={"id": LEAD_ID}, schema="v1:GetLeadResponse"),
    pipedrive("GET", "/v1/leads/{id}", path_args={"id": "00000000-0000-4000-8000-000000000000"},
              status=404, schema="v1:FailResponse", extras=PIPEDRIVE_ERROR_EXTRAS),
    pipedrive("DELETE", "/v1/leads/{id}", path_args={"id": LEAD_ID}, schema="v1:DeleteLeadIdResponse"),
    pipedrive("DELETE", "/v1/deals/{id}", path_args={"id": 2}, schema="v1-deprecated:DeleteDealResponse"),
    pipedrive("DELETE", "/v1/activities/{id}", path_args={"id": 2},
              schema="v1-deprecated:DeleteActivityResponse"),
    # -- Pipedrive API v2: cursor pages, ids, by id -------------------------------------------
    pipedrive("GET", "/v2/deals", {"limit": 5, "sort_by": "id", "sort_direction": "asc"},
              schema="v2:GetDealsResponse"),
    pipedrive("GET", "/v2/deals", {"limit": 5, "sort_by": "id"}, page=3, schema="v2:GetDealsResponse",
              allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/deals", {"updated_since": "2025-01-01T00:00:00Z", "sort_by": "update_time"},
              schema="v2:GetDealsResponse", allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/deals", {"ids": "1,2,3,99999"}, schema="v2:GetDealsResponse",
              allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/deals", {"updated_since": "2099-01-01T00:00:00Z"}, schema="v2:GetDealsResponse",
              allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/activities", {"limit": 5, "sort_by": "id"}, schema="v2:GetActivitiesResponse",
              allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/activities", {"limit": 5, "sort_by": "update_time"}, page=2,
              schema="v2:GetActivitiesResponse", allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/activities", {"ids": "4,5"}, schema="v2:GetActivitiesResponse",
              allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/persons", {"ids": "1,2,3"}, schema="v2:GetPersonsResponse",
              allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("GET", "/v2/organizations", {"ids": "1,2"}, schema="v2:GetOrganizationsResponse",
              allow=(PIPEDRIVE_LAST_CURSOR,)),
    pipedrive("DELETE", "/v2/deals/{id}", path_args={"id": 3}, schema="v2:DeleteDealResponse"),
    pipedrive("DELETE", "/v2/activities/{id}", path_args={"id": 3}, schema="v2:DeleteActivityResponse"),

    # -- X API v2 ----------------------------------------------------------------------------
    x("GET", "/2/users/by/username/{username}",
      {"user.fields": "name,profile_image_url,public_metrics"},
      schema="Get2UsersByUsernameUsernameResponse", extras=X_METRICS),
    # X: an unknown user is a 200 with errors.
    x("GET", "/2/users/by/username/{username}", path_args={"username": "nobody_here"},
      schema="Get2UsersByUsernameUsernameResponse", extras=X_NOT_FOUND),
    x("GET", "/2/users/by/username/{username}", path_args={"username": "not-a-handle!"},
      status=400, schema="InvalidRequestProblem"),
    x("GET", "/2/users/by/username/{username}", auth=False, status=401, schema="Problem"),
    x("GET", "/2/users/{id}", {"user.fields": "created_at,description,public_metrics,verified"},
      schema="Get2UsersIdResponse", extras=X_METRICS),
    x("GET", "/2/users/{id}/tweets",
      {"max_results": 5, "expansions": "author_id", "user.fields": "username,name",
       "tweet.fields": "created_at,author_id,conversation_id,lang,public_metrics,referenced_tweets"},
      schema="Get2UsersIdTweetsResponse", extras=X_METRICS),
    x("GET", "/2/users/{id}/tweets", {"max_results": 5}, page=2, schema="Get2UsersIdTweetsResponse"),
    x("GET", "/2/users/{id}/tweets", {"since_id": "9" * 19}, schema="Get2UsersIdTweetsResponse"),
    x("GET", "/2/users/{id}/tweets", {"max_results": 500}, status=400,
      schema="InvalidRequestProblem"),
    x("GET", "/2/users/{id}/tweets", fault=RATE_LIMITED, status=429, schema="Problem"),
    # posts by id: a deleted or unknown one comes back in errors
    x("GET", "/2/tweets", {"ids": TWEET_IDS, "expansions": "author_id", "user.fields": "username,name",
                           "tweet.fields": "created_at,author_id,conversation_id,lang,public_metrics"},
      schema="Get2TweetsResponse", extras=X_METRICS + X_NOT_FOUND),

    # -- Notion, API version 2025-09-03 (@notionhq/client's endpoint types) --------------------
    notion("POST", "/v1/search", json={"filter": {"property": "object", "value": "page"}, "sort": NOTION_NEWEST,
                                       "page_size": 5}),
    notion("POST", "/v1/search", json={"filter": {"property": "object", "value": "data_source"}}),
    notion("POST", "/v1/search", json={"filter": {"in_trash": True}, "sort": NOTION_NEWEST}),
    notion("POST", "/v1/data_sources/{data_source_id}/query", json={"sorts": [NOTION_NEWEST], "page_size": 3}),
    notion("POST", "/v1/data_sources/{data_source_id}/query", json={"filter": {
        "timestamp": "last_edited_time", "last_edited_time": {"on_or_after": "2025-01-01T00:00:00.000Z"}}}),
    notion("GET", "/v1/data_sources/{data_source_id}"),
    notion("GET", "/v1/pages/{page_id}"),
    notion("GET", "/v1/pages/{page_id}", path_args={"page_id": NOTION_ROW}),
    notion("GET", "/v1/blocks/{block_id}/children", {"page_size": 100}),
    notion("GET", "/v1/blocks/{block_id}/children", {"page_size": 4}, page=2),
    notion("GET", "/v1/blocks/{block_id}/children", path_args={"block_id": NOTION_LIST_ITEM}),
    notion("GET", "/v1/blocks/{block_id}/children", path_args={"block_id": NOTION_TABLE}),
    notion("GET", "/v1/comments", {"block_id": NOTION_PAGE}),
    notion("GET", "/v1/comments", {"block_id": NOTION_PAGE, "page_size": 1}, page=2),
    notion("GET", "/v1/users/me"),
    notion("GET", "/v1/users"),

    # -- HubSpot (@hubspot/api-client 14.0.1: crm/objects, crm/associations/v4, crm/owners) ----
    *[hubspot("POST", f"/crm/v3/objects/{kind}/search", json=HUBSPOT_SEARCH,
              schema="objects.CollectionResponseWithTotalSimplePublicObjectForwardPaging")
      for kind in ("contacts", "companies", "deals", "tickets", "notes", "emails", "calls", "meetings")],
    hubspot("POST", "/crm/v3/objects/deals/search", json={**HUBSPOT_SEARCH, "limit": 201}, status=400,
            schema="objects.ModelError", extras=HUBSPOT_ERROR),
    hubspot("POST", "/crm/v3/objects/deals/search", json={"limit": 200, "after": "9900"}, status=400,
            schema="objects.ModelError", extras=HUBSPOT_ERROR),
    hubspot("GET", "/crm/v3/objects/contacts", {"limit": 5, "properties": "email,firstname"},
            schema="objects.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"),
    hubspot("GET", "/crm/v3/objects/contacts", {"limit": 5}, page=2,
            schema="objects.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"),
    hubspot("GET", "/crm/v3/objects/contacts", {"archived": "true"},
            schema="objects.CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"),
    hubspot("GET", "/crm/v3/objects/deals/1", {"properties": "dealname"},
            schema="objects.SimplePublicObjectWithAssociations"),
    hubspot("GET", "/crm/v3/objects/deals/99999", status=404, schema="objects.ModelError", extras=HUBSPOT_ERROR),
    hubspot("POST", "/crm/v4/associations/deals/companies/batch/read", json={"inputs": [{"id": "1"}, {"id": "2"}]},
            schema="associations.BatchResponsePublicAssociationMultiWithLabel", allow=HUBSPOT_TO_ID),
    hubspot("POST", "/crm/v4/associations/notes/deals/batch/read", json={"inputs": [{"id": "1"}, {"id": "2"}]},
            status=207, schema="associations.BatchResponsePublicAssociationMultiWithLabelWithErrors",
            allow=HUBSPOT_TO_ID),
    hubspot("POST", "/crm/v3/objects/companies/batch/read", json={"inputs": [{"id": "1"}, {"id": "2"}],
            "properties": ["name"]}, schema="objects.BatchResponseSimplePublicObject"),
    hubspot("POST", "/crm/v3/objects/companies/batch/read", json={"inputs": [{"id": "1"}, {"id": "999"}],
            "properties": ["name"]}, status=207, schema="objects.BatchResponseSimplePublicObjectWithErrors"),
    hubspot("GET", "/crm/v3/owners", schema="owners.CollectionResponsePublicOwnerForwardPaging"),
    hubspot("GET", "/crm/v3/owners", auth=False, status=401, schema="objects.ModelError", extras=HUBSPOT_ERROR),

    # -- Salesforce (@jsforce/jsforce-node 3.12.0: QueryResult, DeletedResult, IdentityInfo, SaveError) ----
    salesforce("GET", f"{SALESFORCE_API}/query", soql("Account", "Name, Industry, Type, Website, Phone, BillingCity, "
               "Description"), schema="QueryResultAccount", extras=SALESFORCE_RELATIONS),
    salesforce("GET", f"{SALESFORCE_API}/query", soql("Contact", "Name, Email, Title, Phone, AccountId, Account.Name"),
               schema="QueryResultContact", extras=SALESFORCE_RELATIONS),
    salesforce("GET", f"{SALESFORCE_API}/query", soql("Opportunity", "Name, StageName, Amount, CloseDate, Probability, "
               "AccountId, Account.Name, Description"), schema="QueryResultOpportunity", extras=SALESFORCE_RELATIONS),
    salesforce("GET", f"{SALESFORCE_API}/query", soql("Task", "Subject, Status, Priority, ActivityDate, Description, "
               "WhoId, Who.Name, WhatId, What.Name"), schema="QueryResultTask", extras=SALESFORCE_RELATIONS),
    salesforce("GET", f"{SALESFORCE_API}/query", soql("Event", "Subject, StartDateTime, EndDateTime, Location, "
               "Description, WhoId, Who.Name, WhatId, What.Name"), schema="QueryResultEvent", extras=SALESFORCE_RELATIONS),
    salesforce("GET", f"{SALESFORCE_API}/query", soql("Case", "CaseNumber, Subject, Description, Status, Priority, "
               "Origin, AccountId, Account.Name, ContactId, Contact.Name"), schema="QueryResultCase",
               extras=SALESFORCE_RELATIONS),
    salesforce("GET", f"{SALESFORCE_API}/query", {"q": "SELECT Id FROM Account ORDER BY Id"}, schema="QueryResultAccount"),
    salesforce("GET", f"{SALESFORCE_API}/query", {"q": "SELECT Id, Colour__c FROM Account"}, status=400,
               schema="SaveError[]"),
    salesforce("GET", f"{SALESFORCE_API}/query", {"q": "SELECT Id FROM Account"}, auth=False, status=401,
               schema="SaveError[]"),
    salesforce("GET", f"{SALESFORCE_API}/query", {"q": "SELECT Id FROM Account"}, fault=RATE_LIMITED, status=403,
               schema="SaveError[]"),
    salesforce("GET", f"{SALESFORCE_API}/sobjects/Opportunity/deleted/", {"start": "2026-11-20T00:00:00Z",
               "end": "2026-12-01T00:00:00Z"}, schema="DeletedResult"),
    salesforce("GET", "/id/{org}/{user}", schema="IdentityInfo", extras=SALESFORCE_IDENTITY),

    # -- Google: Gmail (discovery document) -------------------------------------------------
    google("GET", "/gmail/v1/users/{userId}/profile", schema="gmail.users.getProfile"),
    google("GET", "/gmail/v1/users/{userId}/messages", {"maxResults": 5},
           schema="gmail.users.messages.list"),
    google("GET", "/gmail/v1/users/{userId}/messages", {"maxResults": 5}, page=2,
           schema="gmail.users.messages.list"),
    google("GET", "/gmail/v1/users/{userId}/messages", {"q": "after:2099/01/01"},
           schema="gmail.users.messages.list"),
    *[google("GET", "/gmail/v1/users/{userId}/messages/{message_id}", {"format": fmt},
             schema="gmail.users.messages.get")
      for fmt in ("full", "metadata", "minimal", "raw")],
    google("GET", "/gmail/v1/users/{userId}/messages/{message_id}",
           {"format": "metadata", "metadataHeaders": ["Subject", "from"]},
           schema="gmail.users.messages.get"),
    # threads and history (connectors/gmail.py); history with records in it: test_google_changes.py
    google("GET", "/gmail/v1/users/{userId}/threads", {"maxResults": 5}, schema="gmail.users.threads.list"),
    google("GET", "/gmail/v1/users/{userId}/threads", {"maxResults": 5}, page=2, schema="gmail.users.threads.list"),
    google("GET", "/gmail/v1/users/{userId}/threads/{thread_id}", {"format": "full"},
           schema="gmail.users.threads.get"),
    google("GET", "/gmail/v1/users/{userId}/history", {"startHistoryId": GMAIL_HISTORY},
           schema="gmail.users.history.list"),

    # -- Google: Drive and Calendar (connectors/google_workspace.py) ---------------------------------
    google("GET", "/drive/v3/files", {"pageSize": 3}, schema="drive.files.list"),
    google("GET", "/drive/v3/files", {"pageSize": 3, **DRIVE_LISTING}, page=2, schema="drive.files.list"),
    google("GET", "/drive/v3/files/{fileId}", {"fields": "*"}, path_args={"fileId": DRIVE_FILE},
           schema="drive.files.get"),
    google("GET", "/drive/v3/files/{fileId}", {"fields": "id"}, path_args={"fileId": "root"}, schema="drive.files.get"),
    google("GET", "/drive/v3/changes/startPageToken", schema="drive.changes.getStartPageToken"),
    google("GET", "/drive/v3/changes", {"pageToken": "1", "pageSize": 3, "fields": "*"}, schema="drive.changes.list"),
    google("GET", "/drive/v3/changes", {"pageToken": "1", "pageSize": 3}, page=9, schema="drive.changes.list"),
    google("GET", "/calendar/v3/users/me/calendarList", schema="calendar.calendarList.list"),
    google("GET", "/calendar/v3/calendars/{calendarId}", path_args={"calendarId": CALENDAR},
           schema="calendar.calendars.get"),
    google("GET", "/calendar/v3/calendars/{calendarId}/events", {"maxResults": 3}, page=2,
           path_args={"calendarId": CALENDAR}, schema="calendar.events.list"),
    google("GET", "/calendar/v3/calendars/{calendarId}/events", path_args={"calendarId": HOLIDAYS},
           schema="calendar.events.list"),
    google("GET", "/calendar/v3/calendars/{calendarId}/events/{eventId}",
           path_args={"calendarId": CALENDAR, "eventId": CALENDAR_EVENT}, schema="calendar.events.get"),

    # -- Slack Web API: every answer is a 200 with "ok" (errors too), but a 429 ----------------
    slack("GET", "/auth.test", schema="auth.test"),
    slack("GET", "/auth.test", auth=False, schema="auth.test"),                    # not_authed
    slack("GET", "/conversations.list", {"types": "public_channel,private_channel", "limit": 2},
          schema="conversations.list"),
    slack("GET", "/conversations.list", {"types": "public_channel,private_channel", "limit": 2}, page=2,
          schema="conversations.list"),
    slack("GET", "/conversations.info", {"channel": "G0LEADERS1"}, schema="conversations.info"),
    slack("GET", "/conversations.info", {"channel": "G0PAYROLL1"}, schema="conversations.info"),  # not found
    slack("GET", "/conversations.members", {"channel": "G0LEADERS1", "limit": 3}, page=2,
          schema="conversations.members"),
    slack("GET", "/conversations.history", {"channel": "C0GENERAL1", "limit": 2}, schema="conversations.history"),
    slack("GET", "/conversations.history", {"channel": "C0GENERAL1", "limit": 2}, page=2,
          schema="conversations.history"),
    slack("GET", "/conversations.history", {"channel": "C0GENERAL1", "oldest": SLACK_THREAD, "latest": SLACK_THREAD,
                                            "inclusive": "true", "limit": 1}, schema="conversations.history"),
    slack("GET", "/conversations.history", {"channel": "C0ENGINEER"}, schema="conversations.history"),
    slack("GET", "/conversations.history", {"channel": "C0GENERAL1"}, fault=RATE_LIMITED, status=429,
          schema="conversations.history"),
    slack("GET", "/conversations.replies", {"channel": "C0GENERAL1", "ts": SLACK_THREAD},
          schema="conversations.replies"),
    slack("GET", "/conversations.replies", {"channel": "C0GENERAL1", "ts": "1.000001"},
          schema="conversations.replies"),                                         # thread_not_found
    slack("GET", "/files.list", {"channel": "C0GENERAL1", "count": 2}, schema="files.list"),
    slack("GET", "/files.list", {"channel": "G0LEADERS1", "count": 2, "page": 2, "ts_from": "1700000000"},
          schema="files.list"),
    slack("GET", "/files.info", {"file": "F000000001"}, schema="files.info"),
    slack("GET", "/files.info", {"file": "F000000003"}, schema="files.info"),        # an image: no content
    slack("GET", "/files.info", {"file": "F999999999"}, schema="files.info"),        # file_not_found
    slack("GET", "/users.list", {"limit": 2}, page=2, schema="users.list"),
    slack("GET", "/users.info", {"user": "U000000003"}, schema="users.info"),
    slack("GET", "/users.info", {"user": "U999999999"}, schema="users.info"),        # user_not_found
    slack("POST", "/auth.revoke", schema="auth.revoke", extras=SLACK_REVOKED),      # what a disconnect sends

    # -- Jira (jira.js's zod models: the endpoint names its answer) ---------------------------
    jira("GET", "/rest/api/3/myself"),
    jira("GET", "/rest/api/3/project/search", {"maxResults": 2}),
    jira("GET", "/rest/api/3/project/{projectIdOrKey}"),
    jira("GET", "/rest/api/3/project/{projectIdOrKey}", path_args={"projectIdOrKey": "NOPE"}, status=404,
         schema="ErrorCollection"),
    jira("GET", "/rest/api/3/project/{projectIdOrKey}/permissionscheme", {"expand": "permissions,user,group,projectRole"}),
    jira("GET", "/rest/api/3/project/{projectIdOrKey}/permissionscheme", path_args={"projectIdOrKey": "SEC"},
         status=403, schema="ErrorCollection"),
    jira("GET", "/rest/api/3/project/{projectIdOrKey}/role/{id}"),
    *[jira("GET", "/rest/api/3/search/jql", {"jql": jql, "fields": JIRA_FIELDS, "expand": "changelog", "maxResults": 5},
           page=page) for jql, page in (('project = "OPS" ORDER BY updated ASC', 1), ('project = "OPS" ORDER BY updated ASC', 2),
                                        ('project = "OPS" AND updated >= "2025-01-01 09:30" ORDER BY updated ASC', 1))],
    jira("GET", "/rest/api/3/search/jql", {"jql": 'project = "TRIB" ORDER BY created ASC', "fields": "id"}),
    jira("GET", "/rest/api/3/search/jql", {"jql": 'project = "NOPE"'}, status=400, schema="ErrorCollection"),
    jira("GET", "/rest/api/3/search/jql", {"jql": 'project = "OPS"'}, fault=RATE_LIMITED, status=429,
         schema="ErrorCollection"),
    jira("GET", "/rest/api/3/issue/{issueIdOrKey}", {"fields": JIRA_FIELDS, "expand": "changelog"}),
    jira("GET", "/rest/api/3/issue/{issueIdOrKey}", path_args={"issueIdOrKey": "99999"}, status=404,
         schema="ErrorCollection"),
    jira("GET", "/rest/api/3/issue/{issueIdOrKey}/comment", {"maxResults": 2}),
    jira("GET", "/rest/api/3/issue/{issueIdOrKey}/comment", {"orderBy": "-created", "maxResults": 2}),  # a lookup
    jira("GET", "/rest/api/3/issue/{issueIdOrKey}/changelog"),
    jira("GET", "/rest/api/3/group/member", {"groupId": ENGINEERING}),
    jira("GET", "/rest/agile/1.0/board", {"projectKeyOrId": "OPS", "type": "scrum", "maxResults": 2}),
    jira("GET", "/rest/agile/1.0/board/{boardId}"),
    jira("GET", "/rest/agile/1.0/board/{boardId}/sprint"),
    jira("GET", "/rest/agile/1.0/sprint/{sprintId}"),

    # -- Confluence (confluence.js's zod models: v1 CQL search and restrictions, v2 by id) -----
    confluence("GET", "/wiki/rest/api/user/current"),
    *[confluence("GET", "/wiki/rest/api/content/search", {"cql": cql, "expand": expand, "limit": 3}, page=page)
      for cql, expand, page in (
          ('type = page AND space = "ENG" ORDER BY lastmodified ASC', CONFLUENCE_PAGE, 1),
          ('type = page AND space = "ENG" ORDER BY lastmodified ASC', CONFLUENCE_PAGE, 2),
          ('type = comment AND space = "ENG" AND lastmodified >= "2025-01-01 09:30" ORDER BY lastmodified ASC',
           "body.storage,version,history,space,container", 1),
          ('type = page AND space = "HR"', "", 1))],
    confluence("GET", "/wiki/rest/api/content/{id}/restriction/byOperation/{operationKey}",
               path_args={"operationKey": "read", "id": "100004"}),
    confluence("GET", "/wiki/rest/api/group"),
    confluence("GET", "/wiki/rest/api/group/{groupId}/membersByGroupId", path_args={"groupId": ENGINEERING}),
    confluence("GET", "/wiki/api/v2/spaces", {"limit": 1}, page=2),
    confluence("GET", "/wiki/api/v2/spaces", {"keys": "ENG"}),
    confluence("GET", "/wiki/api/v2/spaces/{id}/permissions", path_args={"id": "98301"}),
    confluence("GET", "/wiki/api/v2/pages/{id}", {"body-format": "storage"}),
    confluence("GET", "/wiki/api/v2/pages", {"space-id": "98301", "status": "current", "limit": 2}, page=2),
    confluence("GET", "/wiki/api/v2/pages/{id}/ancestors", path_args={"id": "100005"}),
    confluence("GET", "/wiki/api/v2/footer-comments/{commentId}", {"body-format": "storage"},
               path_args={"commentId": "200001"}),

    # -- Microsoft Graph (the microsoft emulation): entities of @microsoft/microsoft-graph-types -------
    graph("GET", "/me", schema="user"),
    graph("GET", "/me", auth=False, status=401, schema="publicErrorResponse", extras=GRAPH_ERROR),
    graph("GET", "/me/joinedTeams", schema="team[]"),
    graph("GET", "/teams/{team_id}/channels", schema="channel[]"),
    graph("GET", TEAMS_CHANNEL, schema="channel"),
    graph("GET", TEAMS_CHANNEL, path_args={"channel_id": "19:nope@thread.tacv2"}, status=404,
          schema="publicErrorResponse", extras=GRAPH_ERROR),
    graph("GET", "/teams/{team_id}/members", schema="aadUserConversationMember[]"),
    graph("GET", TEAMS_CHANNEL + "/members", schema="aadUserConversationMember[]"),
    graph("GET", TEAMS_CHANNEL + "/messages", {"$expand": "replies", "$top": 2}, schema="chatMessage[]",
          extras=GRAPH_SENDER),
    graph("GET", TEAMS_CHANNEL + "/messages", {"$top": 2}, page=2, schema="chatMessage[]", extras=GRAPH_SENDER),
    graph("GET", TEAMS_CHANNEL + "/messages", {"$top": 51}, status=400, schema="publicErrorResponse",
          extras=GRAPH_ERROR),
    graph("GET", TEAMS_CHANNEL + "/messages", fault=RATE_LIMITED, status=429, schema="publicErrorResponse",
          extras=GRAPH_ERROR),
    graph("GET", TEAMS_CHANNEL + "/messages/delta", {"$expand": "replies",
                                                     "$filter": "lastModifiedDateTime gt 2024-01-01T00:00:00Z"},
          schema="chatMessage[]", extras=GRAPH_SENDER),
    graph("GET", TEAMS_CHANNEL + "/messages/delta", {"$filter": "createdDateTime lt 2024-01-01"}, status=400,
          schema="publicErrorResponse", extras=GRAPH_ERROR),
    graph("GET", TEAMS_CHANNEL + "/messages/{message_id}", {"$expand": "replies"}, schema="chatMessage",
          extras=GRAPH_SENDER),
    graph("GET", TEAMS_CHANNEL + "/messages/{message_id}", path_args={"message_id": "99999"}, status=404,
          schema="publicErrorResponse", extras=GRAPH_ERROR),
    graph("GET", "/groups/{group_id}/transitiveMembers", schema="user[]"),  # directoryObjects that are users
    graph("GET", "/me/drive", schema="drive"),
    graph("GET", "/sites", {"search": "*"}, schema="site[]"),
    graph("GET", "/sites/{site_id}/drives", schema="drive[]", extras=("/value/*/owner/group",)),
    graph("GET", "/drives/{drive_id}", schema="drive"),
    graph("GET", "/drives/{drive_id}/root/delta", {"$top": 5}, schema="driveItem[]"),
    graph("GET", "/drives/{drive_id}/root/delta", {"$top": 5}, page=2, schema="driveItem[]"),
    graph("GET", "/drives/{drive_id}/root/delta", {"token": "bm9wZQ"}, status=400, schema="publicErrorResponse",
          extras=GRAPH_ERROR),
    graph("GET", "/drives/{drive_id}/root/delta", fault={**RATE_LIMITED, "status": 503}, status=503,
          schema="publicErrorResponse", extras=GRAPH_ERROR),      # SharePoint's "Server Too Busy"
    graph("GET", "/drives/{drive_id}/items/{item_id}", schema="driveItem"),
    graph("GET", "/drives/{drive_id}/items/{item_id}", path_args={"item_id": "99999"}, status=404,
          schema="publicErrorResponse", extras=GRAPH_ERROR),
    graph("GET", "/drives/{drive_id}/items/{item_id}/permissions", schema="permission[]",
          extras=("/value/*/grantedToV2/user/email",)),
    graph("GET", "/me/mailFolders", schema="mailFolder[]"),
    graph("GET", "/me/mailFolders/{folder_id}", schema="mailFolder"),
    graph("GET", "/me/mailFolders/{folder_id}/childFolders", schema="mailFolder[]"),
    graph("GET", "/me/mailFolders/{folder_id}/messages/delta", {"$select": GRAPH_MAIL_DELTA}, schema="message[]"),
    graph("GET", "/me/mailFolders/{folder_id}/messages/delta", {"$select": GRAPH_MAIL_DELTA}, page=2,
          schema="message[]"),
    graph("GET", "/me/mailFolders/{folder_id}/messages", {"$top": 2}, page=2, schema="message[]"),  # a lookup
    graph("GET", "/me/mailFolders/{folder_id}/messages", {"$filter": "createdDateTime ge 2025-01-01T00:00:00Z"},
          schema="message[]"),
    graph("GET", "/me/messages/{mail_id}", schema="message"),
    graph("GET", "/me/messages/{mail_id}", path_args={"mail_id": "99999"}, status=404, schema="publicErrorResponse",
          extras=GRAPH_ERROR),
    # The write endpoints of the actions (connectors/actions.py).
    slack("POST", "/chat.postMessage", json={"channel": "C0GENERAL1", "text": "Fidelity"}, schema="chat.postMessage"),
    slack("POST", "/chat.postMessage", json={"channel": "C0ENGINEER", "text": "Fidelity"}, schema="chat.postMessage"),
    github("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", json={"labels": ["bug", "fidelity"]}),
    jira("POST", "/rest/api/3/issue", status=201, json={"fields": {
        "project": {"key": "TRIB"}, "summary": "Fidelity", "issuetype": {"name": "Task"},
        "description": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Checked."}]}]}}}),
    jira("POST", "/rest/api/3/issue/{issueIdOrKey}/comment", status=201, json={"body": {
        "type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Noted."}]}]}}),
    jira("GET", "/rest/api/3/issue/{issueIdOrKey}/transitions"),
    notion("POST", "/v1/pages", json={"parent": {"page_id": "00000001-0000-4000-8000-000000000001"}, "properties": {
        "title": {"title": [{"type": "text", "text": {"content": "Fidelity"}}]}}, "children": [
        {"object": "block", "type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": "Hi"}}]}}]}),
    notion("PATCH", "/v1/blocks/{block_id}/children", json={"children": [
        {"object": "block", "type": "paragraph", "paragraph": {"rich_text": [{"type": "text", "text": {"content": "Hi"}}]}}]}),
    graph("POST", "/teams/{team_id}/channels/{channel_id}/messages", status=201, schema="chatMessage",
          json={"body": {"contentType": "text", "content": "Fidelity"}}, extras=("/from/user/userIdentityType",
                                                                               "/from/user/tenantId")),
    graph("POST", "/me/messages", status=201, schema="message", json={
        "subject": "Fidelity", "body": {"contentType": "Text", "content": "Checked."},
        "toRecipients": [{"emailAddress": {"address": "ana@example.com"}}]}),
    google("POST", "/gmail/v1/users/{userId}/drafts", schema="gmail.users.drafts.create",
           json={"message": {"raw": "VG86IGFuYUBleGFtcGxlLmNvbQpTdWJqZWN0OiBIaQoKSGVsbG8u"}}),
    google("POST", "/gmail/v1/users/{userId}/messages/send", schema="gmail.users.messages.send",
           json={"raw": "VG86IGFuYUBleGFtcGxlLmNvbQpTdWJqZWN0OiBIaQoKSGVsbG8u"}),
    jira("POST", "/rest/api/3/issue", status=400, schema="ErrorCollection",
         json={"fields": {"project": {"key": "TRIB"}, "issuetype": {"name": "Task"}}}),
    jira("POST", "/rest/api/3/issue/{issueIdOrKey}/transitions", status=400, schema="ErrorCollection",
         json={"transition": {"id": "99"}}),
    github("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", status=422, json={"labels": "bug"},
           extras=GITHUB_422_EXTRAS),

    # -- GitLab REST v4 (@gitbeaker/core's types) -----------------------------------------------
    gitlab("GET", "/user", schema="ExpandedUserSchema", allow=GITLAB_NULLS, extras=GITLAB_USER),
    gitlab("GET", "/projects", {"membership": "true", "pagination": "keyset", "order_by": "id", "sort": "asc",
                                "per_page": 2}, schema="ProjectSchema[]", allow=GITLAB_NULLS, links=("next",),
           extras=GITLAB_PROJECT),
    gitlab("GET", "/projects/{id}", schema="ProjectSchema", allow=GITLAB_NULLS, extras=GITLAB_PROJECT),
    gitlab("GET", "/projects/{id}/members/all", schema="MemberSchema[]", allow=GITLAB_NULLS, links=None,
           extras=GITLAB_MEMBER),
    gitlab("GET", "/projects/{id}/issues", {"scope": "all", "state": "all", "order_by": "updated_at", "sort": "asc",
                                           "updated_after": "2024-06-01T00:00:00.000Z", "per_page": 5},
           schema="IssueSchema[]", allow=GITLAB_NULLS, links=None, extras=GITLAB_THREAD),
    gitlab("GET", "/projects/{id}/issues", {"per_page": 5}, page=2, schema="IssueSchema[]", allow=GITLAB_NULLS,
           links=None, extras=GITLAB_THREAD),
    gitlab("GET", "/projects/{id}/issues/{issue_iid}", schema="IssueSchema", allow=GITLAB_NULLS, extras=GITLAB_THREAD),
    gitlab("GET", "/projects/{id}/issues/{issue_iid}/notes", {"sort": "asc", "order_by": "created_at"},
           schema="IssueNoteSchema[]", allow=GITLAB_NULLS, links=None, extras=GITLAB_NOTE),
    gitlab("GET", "/projects/{id}/merge_requests", {"scope": "all", "state": "all", "order_by": "updated_at",
                                                   "sort": "asc", "per_page": 5},
           schema="MergeRequestSchema[]", allow=GITLAB_NULLS, links=None, extras=GITLAB_THREAD),
    gitlab("GET", "/projects/{id}/merge_requests/{merge_request_iid}", schema="MergeRequestSchema",
           allow=GITLAB_NULLS, extras=GITLAB_THREAD),
    gitlab("GET", "/projects/{id}/merge_requests/{merge_request_iid}/notes", {"sort": "asc"},
           schema="MergeRequestNoteSchema[]", allow=GITLAB_NULLS, links=None, extras=GITLAB_NOTE),

    # -- Discord REST v10 (discord-api-types) ---------------------------------------------------
    discord("GET", "/users/@me", schema="RESTGetAPICurrentUserResult"),
    discord("GET", "/users/@me", auth=False, status=401, schema="RESTError"),
    discord("GET", "/users/@me/guilds", schema="RESTGetAPICurrentUserGuildsResult"),
    discord("GET", "/guilds/{guild_id}/channels", schema="APIChannel[]"),
    discord("GET", "/guilds/{guild_id}/threads/active", schema="RESTGetAPIGuildThreadsResult"),
    discord("GET", "/channels/{channel_id}/threads/archived/public", path_args={"channel_id": "1100000000000000102"},
            schema="RESTGetAPIChannelThreadsArchivedPublicResult"),
    discord("GET", "/channels/{channel_id}", schema="RESTGetAPIChannelResult"),
    discord("GET", "/channels/{channel_id}", path_args={"channel_id": "1100000000000000999"}, status=404,
            schema="RESTError"),
    discord("GET", "/channels/{thread_id}", schema="RESTGetAPIChannelResult"),
    discord("GET", "/channels/{channel_id}/messages", {"limit": 10, "after": "0"}, schema="RESTGetAPIChannelMessagesResult"),
    discord("GET", "/channels/{thread_id}/messages", {"limit": 10}, schema="RESTGetAPIChannelMessagesResult"),
    discord("GET", "/channels/{thread_id}/thread-members", schema="RESTGetAPIChannelThreadMembersResult"),
    discord("GET", "/guilds/{guild_id}/members", {"limit": 1000}, schema="RESTGetAPIGuildMembersResult"),
    discord("GET", "/users/@me/guilds", fault=RATE_LIMITED, status=429, schema="RESTRateLimit"),

    # -- Freshdesk: airbyte-source-freshdesk's record schemas, by stream ------------------------
    freshdesk("GET", "/agents/me", schema="agents", extras=FRESHDESK_AGENT),
    freshdesk("GET", "/agents", {"per_page": 4}, schema="agents[]", extras=tuple(f"/*{f}" for f in FRESHDESK_AGENT)),
    freshdesk("GET", "/agents", {"per_page": 4}, page=2, schema="agents[]",
              extras=tuple(f"/*{f}" for f in FRESHDESK_AGENT)),
    freshdesk("GET", "/agents/{id}", schema="agents", extras=FRESHDESK_AGENT),
    freshdesk("GET", "/tickets", FRESHDESK_TICKETS, schema="tickets[]"),
    freshdesk("GET", "/tickets", FRESHDESK_TICKETS, page=2, schema="tickets[]"),
    freshdesk("GET", "/tickets/{id}", schema="tickets", extras=("/deleted",)),
    freshdesk("GET", "/tickets/{id}/conversations", schema="conversations[]"),
    freshdesk("GET", "/contacts", {"per_page": 10}, schema="contacts[]"),
    freshdesk("GET", "/contacts", {"per_page": 10, "_updated_since": "2024-06-01T00:00:00Z"}, page=2,
              schema="contacts[]"),
    freshdesk("GET", "/contacts/{id}", schema="contacts", extras=("/deleted",)),

    # -- Intercom: intercom-client's answer types ------------------------------------------------
    intercom("GET", "/me", schema="AdminWithApp"),
    intercom("GET", "/me", auth=False, status=401, schema="Error"),
    intercom("GET", "/admins", schema="AdminList"),
    intercom("POST", "/conversations/search", json=INTERCOM_SEARCH, schema="ConversationList"),
    intercom("GET", "/conversations/{id}", {"display_as": "plaintext"}, schema="Conversation"),
    intercom("GET", "/conversations/{id}", path_args={"id": 999}, status=404, schema="Error"),
    intercom("POST", "/contacts/search", json=INTERCOM_SEARCH, schema="ContactList"),
    intercom("GET", "/articles", {"per_page": 10}, schema="ArticleList"),
    intercom("GET", "/articles", {"per_page": 10}, page=2, schema="ArticleList"),
    intercom("GET", "/articles/{id}", schema="Article"),
    intercom("POST", "/conversations/search", json=INTERCOM_SEARCH, fault=RATE_LIMITED, status=429, schema="Error"),

    # -- Figma: its OpenAPI operation is the method and path template ------------------------------
    figma("GET", "/v1/me"),
    figma("GET", "/v1/me", auth=False, status=403),
    figma("GET", "/v1/teams/{team_id}/projects"),
    figma("GET", "/v1/teams/{team_id}/projects", path_args={"team_id": "99"}, status=403),
    figma("GET", "/v1/projects/{project_id}/files"),
    figma("GET", "/v1/files/{file_key}", {"depth": 2}),
    figma("GET", "/v1/files/{file_key}/meta"),
    figma("GET", "/v1/files/{file_key}/meta", path_args={"file_key": "nope"}, status=404),
    figma("GET", "/v1/files/{file_key}/comments"),
    figma("GET", "/v1/teams/{team_id}/components", {"page_size": 10}),
    figma("GET", "/v1/teams/{team_id}/components", {"page_size": 10}, page=2),
    figma("GET", "/v1/components/{key}"),
    figma("GET", "/v1/files/{file_key}/comments", fault=RATE_LIMITED, status=429),
]


@functools.cache
def _ids() -> list[str]:
    ids = [c.id for c in CASES]
    duplicates = {i for i in ids if ids.count(i) > 1}
    assert not duplicates, f"two cases read the same: {duplicates}"
    return ids


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_the_sandbox_answers_as_the_provider_describes(sandbox_url, case: Case):
    response = Client(sandbox_url, case.provider).send(case)
    assert response.status_code == case.status, response.text[:500]
    schema, header_schemas = case.description()
    found = header_problems(case, response, header_schemas)
    if schema is None:
        assert not response.content, "the description has no body for this answer"
    else:
        body = response.json()
        found += problems(schema, body, allow=case.allow)
        found += [f"undocumented field {path}" for path in undocumented(schema, body)
                  if not case.undocumented_allowed(path)]
    assert not found, f"{case.id} does not conform:\n  " + "\n  ".join(found)


def test_gmail_metadata_headers_are_only_those_asked_for(sandbox_url):
    """Gmail's discovery document: metadataHeaders, "when given and format is METADATA, only
    include headers specified" (names match case-insensitively)."""
    from . import descriptions
    parameter = descriptions.discovery_method("gmail.v1", "gmail.users.messages.get")["parameters"]
    assert "only include headers specified" in parameter["metadataHeaders"]["description"]
    client = Client(sandbox_url, "google")
    listed = client.request("GET", "/gmail/v1/users/me/messages", {"maxResults": 1}).json()
    path = f"/gmail/v1/users/me/messages/{listed['messages'][0]['id']}"
    some = client.request("GET", path, {"format": "metadata", "metadataHeaders": ["Subject", "from"]})
    assert [h["name"] for h in some.json()["payload"]["headers"]] == ["From", "Subject"]
    every = client.request("GET", path, {"format": "metadata"}).json()["payload"]["headers"]
    assert {"Date", "From", "To", "Subject", "Message-ID"} <= {h["name"] for h in every}


# Access tokens live as long as the providers' own do: Google's for an hour, answered as
# "expires_in": 3599 (developers.google.com/identity/protocols/oauth2: "Access tokens have
# limited lifetimes"; every real token response says 3599), GitHub's user-to-server tokens
# for 8 hours (docs.github.com, "Refreshing user access tokens": "expires_in": 28800),
# Atlassian's for an hour (developer.atlassian.com, "OAuth 2.0 (3LO) apps": "expires_in": 3600),
# HubSpot's for 30 minutes (developers.hubspot.com, "Manage OAuth tokens": "expires_in": 1800).
# A connector that never refreshes passes against an 8-hour sandbox and fails in production
# within the hour.
TOKEN_LIFETIMES = {"google": 3599, "github": 28800, "atlassian": 3600, "hubspot": 1800}
TOKEN_ENDPOINTS = {"google": "/google/token", "github": "/github/login/oauth/access_token",
                   "atlassian": "/atlassian/oauth/token", "hubspot": "/hubspot/oauth/2026-03/token"}
PROBES = {"google": "/gmail/v1/users/me/profile", "github": "/user", "atlassian": "/rest/api/3/myself",
          "hubspot": "/crm/v3/owners"}
WIRE_OF = {"atlassian": "jira"}     # Atlassian's tokens are probed on Jira


@pytest.mark.parametrize("provider", sorted(TOKEN_LIFETIMES))
def test_access_tokens_last_as_long_as_the_providers_say(sandbox_url, provider):
    """Minted or refreshed, a token says its real lifetime, opens the API until then and is
    refused after it."""
    from sandbox.providers import PROVIDERS
    from sandbox.state import DEFAULT_CLIENTS

    lifetime, wire = TOKEN_LIFETIMES[provider], WIRE_OF.get(provider, provider)
    client = Client(sandbox_url, wire)
    registered = DEFAULT_CLIENTS.get(provider) or PROVIDERS[provider].client
    credentials = {key: registered[key] for key in ("client_id", "client_secret")}
    minted = requests.post(f"{sandbox_url}/_sandbox/tokens", timeout=5,
                           json={"provider": provider, "scope": WIRES[wire].credentials[1]}).json()
    refreshed = requests.post(f"{sandbox_url}{TOKEN_ENDPOINTS[provider]}", timeout=5,
                              headers={"Accept": "application/json"},
                              data={"grant_type": "refresh_token", "refresh_token": minted["refresh_token"],
                                    **credentials}).json()
    assert (minted["expires_in"], refreshed["expires_in"]) == (lifetime, lifetime)
    client.headers["Authorization"] = f"Bearer {refreshed['access_token']}"
    for seconds, status in ((lifetime - 2, 200), (3, 401)):
        requests.post(f"{sandbox_url}/_sandbox/clock", json={"advance_seconds": seconds},
                      timeout=5).raise_for_status()
        assert client.request("GET", PROBES[provider]).status_code == status


def test_slack_oauth_v2_access_answers_as_described(sandbox_url):
    """The token exchange after the consent page, and a refused code: Slack's oauth.v2.access
    answers both with HTTP 200 (docs.slack.dev/reference/methods/oauth.v2.access)."""
    from tests.oauth_helpers import consent

    callback = consent(f"{sandbox_url}/slack/oauth/v2/authorize?client_id=sandbox-slack-client&scope=channels:read,"
                       "users:read&redirect_uri=http://127.0.0.1/cb&state=s1")
    code = dict(parse_qsl(urlsplit(callback).query))["code"]
    client = ("sandbox-slack-client", "sandbox-slack-secret")
    for value, wanted in ((code, True), (code, False)):      # a code works once
        answer = requests.post(f"{sandbox_url}/slack/api/oauth.v2.access", auth=client, timeout=5,
                               data={"code": value, "redirect_uri": "http://127.0.0.1/cb"})
        body = answer.json()
        assert answer.status_code == 200 and body["ok"] is wanted, body
        assert problems_of("slack", "oauth.v2.access", body, allow=(SLACK_NO_ENTERPRISE,)) == []
    assert body["error"] == "invalid_code" and "scope" not in body


def test_hubspot_rate_headers_and_token_answers_are_as_described(sandbox_url):
    """HubSpot's usage guidelines: X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds
    (integers) on API answers, none on the search endpoints; the token endpoint's answer is the
    SDK's TokenResponseIF, and a refresh hands back the same refresh token."""
    client = Client(sandbox_url, "hubspot")
    listed = client.request("GET", "/crm/v3/owners")
    assert [listed.headers.get(f"X-HubSpot-RateLimit-{h}", "").isdigit()
            for h in ("Max", "Remaining", "Interval-Milliseconds")] == [True, True, True]
    assert listed.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    searched = client.request("POST", "/crm/v3/objects/contacts/search", json={"limit": 1})
    assert searched.status_code == 200 and not any(h.lower().startswith("x-hubspot-ratelimit") for h in searched.headers)
    minted = requests.post(f"{sandbox_url}/_sandbox/tokens", timeout=5,
                           json={"provider": "hubspot", "scope": "oauth"}).json()
    refreshed = requests.post(f"{sandbox_url}/hubspot/oauth/2026-03/token", timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": minted["refresh_token"],
        "client_id": "sandbox-hubspot-client", "client_secret": "sandbox-hubspot-secret"}).json()
    assert problems_of("hubspot", "oauth.TokenResponseIF", refreshed) == []
    assert refreshed["refresh_token"] == minted["refresh_token"]
    client.fault(RATE_LIMITED, "/crm/v3/owners")
    limited = client.request("GET", "/crm/v3/owners")
    assert limited.status_code == 429 and "retry-after" not in {h.lower() for h in limited.headers}
    assert {k: v for k, v in limited.json().items() if k in ("status", "errorType", "policyName")} == {
        "status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}


def test_salesforce_token_query_more_and_usage_are_as_described(sandbox_url, monkeypatch):
    """The token answer is jsforce's TokenResponse (instance_url, id, no expires_in) and a refresh
    keeps the refresh token; a queryMore page (nextRecordsUrl) is a QueryResult like the first;
    every API answer says Sforce-Limit-Info: api-usage=used/allowance."""
    from sandbox.providers import salesforce as emulation

    monkeypatch.setattr(emulation, "MIN_BATCH", 1)
    minted = requests.post(f"{sandbox_url}/_sandbox/tokens", timeout=5,
                           json={"provider": "salesforce", "scope": "api refresh_token id"}).json()
    assert problems_of("salesforce", "TokenResponse", minted) == [] and "expires_in" not in minted
    refreshed = requests.post(f"{sandbox_url}/salesforce/services/oauth2/token", timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": minted["refresh_token"],
        "client_id": "sandbox-salesforce-client", "client_secret": "sandbox-salesforce-secret"}).json()
    assert problems_of("salesforce", "TokenResponse", refreshed) == []
    assert refreshed["refresh_token"] == minted["refresh_token"] and refreshed["access_token"] != minted["access_token"]
    client = Client(sandbox_url, "salesforce")
    client.headers["Sforce-Query-Options"] = "batchSize=3"
    first = client.request("GET", f"{SALESFORCE_API}/query", {"q": "SELECT Id, Name FROM Contact ORDER BY Id"})
    assert first.json()["done"] is False and len(first.json()["records"]) == 3
    following = client.request("GET", first.json()["nextRecordsUrl"])
    assert problems_of("salesforce", "QueryResultContact", following.json()) == []
    assert following.json()["records"][0]["Id"] not in {r["Id"] for r in first.json()["records"]}
    used, allowance = following.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert int(used) >= 2 and int(allowance) == emulation.DAILY_ALLOWANCE


# Zendesk (sandbox/providers/zendesk.py): node-zendesk describes the records, not the pages that
# carry them (the exports' after_cursor/end_of_stream, the lists' meta/links), so each record of
# every page the connector reads is held to its type. Real records carry null where a field is
# unset, though node-zendesk types them without null (developers.zendesk.com's JSON examples:
# "assignee_id": null, "organization_id": null); the export reports a deleted ticket with status
# "deleted" (the incremental exports' docs), which node-zendesk's Status omits, and stamps each
# record with generated_timestamp; users carry time_zone, verified, suspended and tags, comments
# their metadata.
ZENDESK_NULLS = tuple(Allow(f"/{name}", {"type": "null"}, "Zendesk sends null for an unset field")
                      for name in ("assignee_id", "organization_id", "group_id", "default_group_id", "role_type",
                                   "custom_role_id", "last_login_at"))
ZENDESK_EXTRAS = ("/generated_timestamp", "/time_zone", "/verified", "/suspended", "/tags", "/role")


@pytest.mark.parametrize("path, params, key, kind", [
    ("/api/v2/incremental/tickets/cursor.json", {"start_time": 1}, "tickets", "Ticket"),
    ("/api/v2/incremental/users/cursor.json", {"start_time": 1}, "users", "User"),
    ("/api/v2/tickets/1/comments.json", {}, "comments", "TicketComment"),
    ("/api/v2/users/show_many.json", {"ids": "1,5"}, "users", "User"),
    ("/api/v2/users.json", {"role[]": ["agent", "admin"]}, "users", "User"),
    ("/api/v2/tickets/1.json", {}, "ticket", "Ticket"),
    ("/api/v2/users/me.json", {}, "user", "User"),
])
def test_zendesk_records_are_as_described(sandbox_url, path, params, key, kind):
    minted = requests.post(f"{sandbox_url}/_sandbox/tokens", timeout=5,
                           json={"provider": "zendesk", "scope": "read"}).json()
    requests.delete(f"{sandbox_url}/_sandbox/collections/zendesk/tickets/2", timeout=5)    # a deleted one too
    answer = requests.get(f"{sandbox_url}/zendesk/acme-sandbox{path}", params=params, timeout=5,
                          headers={"Authorization": f"Bearer {minted['access_token']}"})
    assert answer.status_code == 200 and answer.headers["x-rate-limit-remaining"].isdigit()
    found = answer.json()[key]
    records = found if isinstance(found, list) else [found]
    assert records
    allow = ZENDESK_NULLS + ((Allow("/status", {"const": "deleted"}, "the export's deleted tickets"),)
                             if kind == "Ticket" else ())
    for item in records:
        assert problems_of("zendesk", kind, item, allow=allow, extras=ZENDESK_EXTRAS) == [], item
