"""Deterministic sandbox data.

Every record is derived from ``(seed, provider, stream, key)`` alone, through a
``random.Random`` seeded with that string (string seeds hash with SHA-512, so they do not
depend on PYTHONHASHSEED): two apps with the same SEED and SCALE answer byte-identical pages.
Nothing is generated at startup. Each stream builds a light index (ids and timestamps) the
first time it is read, and full records are generated page by page, so SCALE=10000 works.
Listings derived from an index (a sort order, a filter) and rendered records are kept until a
write changes them (``view()``/``rendered()``), so a list page costs O(page), not O(N log N).

Timestamps are fixed in 2024-01-01 .. 2025-06-30 (not relative to the wall clock), so ``since``
filters are reproducible. Records created through the API (GitHub issues and comments) get the
sandbox clock's "now" and are replayed on top of the seeded index.
"""
from __future__ import annotations

import bisect
import calendar
import hashlib
import random
import threading
import uuid
from collections import OrderedDict
from datetime import datetime, timezone

START = calendar.timegm((2024, 1, 1, 0, 0, 0))
END = calendar.timegm((2025, 6, 30, 0, 0, 0))
DAY = 86400

FIRST_NAMES = [
    "Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farah", "Gustavo", "Hana", "Ines", "Jonas",
    "Kaito", "Leila", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tomas",
    "Uma", "Viktor", "Wen", "Yara", "Zoe", "Amara", "Benedikt", "Carmen", "Diego", "Esther",
]
LAST_NAMES = [
    "Okafor", "Lindqvist", "Moreau", "Tanaka", "Costa", "Haddad", "Novak", "Fischer", "Silva",
    "Kowalski", "Nguyen", "Ibrahim", "Larsen", "Rossi", "Petrov", "Mensah", "Kim", "Alvarez",
    "Brennan", "Duarte", "Eriksen", "Gallo", "Hoang", "Jansen", "Keller", "Mbeki", "Osei",
]
# The workspace's own people (name, login) of the emulations with staff of their own: GitLab's and
# Linear's members, Freshdesk's agents (the first six), Intercom's teammates (the first five).
STAFF = (("Ada Okafor", "ada"), ("Bruno Silva", "bruno"), ("Chiara Rossi", "chiara"), ("Dev Patel", "dev"),
         ("Emeka Obi", "emeka"), ("Fatima Zahra", "fatima"), ("Gustav Lind", "gustav"), ("Hana Sato", "hana"),
         ("Ines Duarte", "ines"))
COMPANIES = [
    "Northwind Traders", "Blue Heron Analytics", "Copperleaf Health", "Driftwood Logistics",
    "Evergreen Foods", "Foxglove Media", "Granite Peak Capital", "Harborview Hotels",
    "Ironbark Manufacturing", "Juniper Learning", "Kestrel Aerospace", "Lumen Energy",
    "Meridian Insurance", "Nimbus Cloudworks", "Orchard Retail", "Pinecrest Realty",
    "Quill & Ink Publishing", "Riverstone Legal", "Saffron Restaurants", "Tidewater Marine",
]
CITIES = ["Lisbon", "Berlin", "Toronto", "Nairobi", "Osaka", "Austin", "Melbourne", "Oslo",
          "Bogota", "Dublin", "Singapore", "Cape Town"]

REPO_FIRST = ["tributary", "atlas", "harbor", "quartz", "lantern", "meadow", "orbit", "pylon",
              "cobalt", "ember", "fjord", "glacier", "juniper", "kiln", "larch", "marble",
              "nectar", "onyx", "prism", "relay", "summit", "tundra", "umber", "vertex"]
REPO_SECOND = ["api", "web", "cli", "sync", "docs", "infra", "ml", "etl", "mobile", "auth",
               "billing", "search", "gateway", "worker", "dashboard", "sdk", "schemas", "ops"]
LANGUAGES = ["Python", "TypeScript", "Go", "Rust", "JavaScript", "Java", "Ruby", "Kotlin"]
COMPONENTS = ["sync scheduler", "OAuth callback", "webhook handler", "search index",
              "rate limiter", "retry queue", "token vault", "settings page", "CSV export",
              "pagination helper", "audit log", "connection health badge", "embedding worker",
              "migration script", "CLI installer", "dark mode", "API client", "job runner"]
BUG_SYMPTOMS = ["crashes when the response is empty", "drops the last page of results",
                "leaks a file descriptor on retry", "times out behind a corporate proxy",
                "shows a stale status after reconnect", "double-counts rows on resume",
                "ignores the Retry-After header", "fails on non-ASCII titles",
                "hangs when the token expires mid-run", "renders dates in the wrong time zone"]
FEATURES = ["support incremental sync", "add a dry-run mode", "expose Prometheus metrics",
            "allow per-channel schedules", "add keyboard shortcuts", "batch embedding requests",
            "cache provider metadata", "add an admin-only filter", "export results as JSON",
            "paginate the history table"]
PR_VERBS = ["Fix", "Refactor", "Add", "Speed up", "Harden", "Document", "Simplify", "Test"]
SENTENCES = [
    "Steps to reproduce are below; it happens about one run in five.",
    "I could reproduce this on the latest main with a fresh database.",
    "The logs show a 429 followed by an immediate retry without any backoff.",
    "This started after the last dependency upgrade.",
    "A minimal test case is attached, and it fails deterministically.",
    "We should keep the old behaviour behind a flag until the next release.",
    "Happy to open a pull request if the approach sounds right.",
    "The fix should also cover the resume-from-checkpoint path.",
    "Benchmarks on the sandbox show roughly a 30% improvement.",
    "Users on self-hosted installs are the most affected.",
    "It looks related to how we parse the Link header.",
    "Docs need an update once this lands.",
]
COMMENTS = [
    "Thanks for the report! Can you share the full stack trace?",
    "I can reproduce this on my machine as well.",
    "LGTM, merging once CI is green.",
    "Could we add a regression test for this?",
    "This is fixed on main, please try the nightly build.",
    "Good catch. I think the root cause is the retry loop.",
    "Left a few nits inline, otherwise looks good.",
    "Closing as a duplicate of an older issue.",
    "Bumping this, it still happens on the latest release.",
    "I pushed a commit that addresses the review comments.",
]
DEAL_PRODUCTS = ["annual license", "pilot", "expansion", "renewal", "onboarding package",
                 "support upgrade", "data migration", "enterprise plan", "team seats"]
ACTIVITY_TYPES = [("call", "Call"), ("meeting", "Meeting"), ("task", "Task"), ("email", "Email"),
                  ("deadline", "Deadline"), ("lunch", "Lunch")]
ACTIVITY_SUBJECTS = ["Discovery call", "Send proposal", "Follow up on pricing", "Demo",
                     "Contract review", "Kick-off meeting", "Check in after trial",
                     "Security questionnaire", "Quarterly business review"]
TWEET_TEMPLATES = [
    "Shipping day! The new {thing} is live for everyone. {tag}",
    "We just published a deep dive on our {thing}. Feedback welcome {tag}",
    "Reminder: the {thing} webinar starts in one hour.",
    "Hiring! Join the team working on our {thing}. {tag}",
    "Small update to the {thing}: faster, calmer, fewer surprises.",
    "What would you like to see next in our {thing}? Replies open.",
    "Postmortem for yesterday's {thing} incident is up. Sorry for the trouble.",
    "Three tips for getting more out of the {thing} {tag}",
]
TWEET_THINGS = ["sync engine", "public API", "dashboard", "search", "mobile app",
                "connector catalog", "audit log", "CLI", "pricing page", "docs site"]
HASHTAGS = ["#buildinpublic", "#devtools", "#opensource", "#SaaS", "#data", "#AI", ""]
MAIL_SUBJECTS = ["Invoice {n} for your subscription", "Re: Q{q} planning notes",
                 "Your weekly digest", "Meeting notes: {thing}", "Action required: {thing}",
                 "Welcome to the team!", "Re: contract draft v{n}", "Flight confirmation {n}",
                 "Security alert for your account", "Lunch on Friday?"]


def seeded(*parts) -> random.Random:
    """A Random seeded from the parts (stable across processes and Python runs)."""
    return random.Random("\x1f".join(str(p) for p in parts))


def h64(*parts) -> int:
    data = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def iso(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def space_time(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def day(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), timezone.utc).strftime("%Y-%m-%d")


def spread(index: int, count: int, lo: float, hi: float, rnd: random.Random) -> int:
    """The index-th of ``count`` increasing instants in [lo, hi), jittered."""
    return int(lo + (hi - lo) * (index + rnd.random() * 0.95) / max(count, 1))


class LRU(OrderedDict):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def get_or_build(self, key, build):
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = build()
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class SeedData:
    """Entry point: one lazily built data set per provider."""

    def __init__(self, seed: int, scale: int):
        self.seed = seed
        self.scale = max(int(scale), 1)
        self.github = GitHubData(seed, self.scale)
        self.pipedrive = PipedriveData(seed, self.scale)
        self.x = XData(seed, self.scale)
        self.google = GoogleData(seed, self.scale)


def person_name(rnd: random.Random) -> tuple[str, str]:
    return rnd.choice(FIRST_NAMES), rnd.choice(LAST_NAMES)


# == GitHub ===================================================================================

LABELS = [
    ("bug", "d73a4a", "Something isn't working"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("question", "d876e3", "Further information is requested"),
    ("performance", "fbca04", "Makes things faster"),
    ("security", "b60205", "Security related"),
]


class GitHubIssue:
    __slots__ = ("number", "created", "updated", "closed", "state_reason", "is_pr", "merged",
                 "draft", "author", "assignee", "labels", "comments", "title", "body", "locked")

    @property
    def state(self) -> str:
        return "closed" if self.closed else "open"


class GitHubComment:
    __slots__ = ("id", "number", "created", "updated", "author", "body", "key")


class GitHubDiscussion:
    """A discussion (GraphQL only, like on GitHub) with its comments as (author, created, body)."""

    __slots__ = ("number", "created", "updated", "author", "comments")


class RepoIssues:
    """All issues (and pull requests) of one repository, with their comments."""

    def __init__(self, repo: dict, comment_base: int):
        self.repo = repo
        self.comment_base = comment_base
        self.by_number: dict[int, GitHubIssue] = {}
        self.comments: list[GitHubComment] = []     # creation order == id order
        self.views: dict[tuple, list] = {}          # sorted listings, dropped on every write
        self.deleted_comments = 0                   # ids are never reused

    @property
    def issues(self) -> list[GitHubIssue]:
        return list(self.by_number.values())

    def view(self, key: tuple, build) -> list:
        """A listing derived from the issues or comments (a filter and a sort order), built
        once and kept until the next write to this repository."""
        if key not in self.views:
            self.views[key] = build()
        return self.views[key]

    def next_number(self) -> int:
        return max(self.by_number, default=0) + 1


class Discussions(list):
    """A repository's discussions, with sorted views of them kept until the next write."""

    def __init__(self, *args):
        super().__init__(*args)
        self.views: dict[tuple, list] = {}

    def view(self, key: tuple, build) -> list:
        if key not in self.views:
            self.views[key] = build()
        return self.views[key]


class GitHubData:
    OWNER_LOGIN = "octo-sandbox"
    # Public repositories of another owner: readable by the signed-in user, not in its
    # /user/repos listing (what a connection that names them must still sync).
    COMMUNITY_LOGIN = "octo-community"
    COMMUNITY_REPOS = ("awesome-connectors", "sync-patterns")
    # An organization the signed-in user belongs to (base permission: none, so its private
    # repositories are read through teams and direct grants only), with its repositories:
    # (name, private). The signed-in user can push to ``platform`` (through team ``core``), only
    # pull ``vault`` (a direct read grant: listing its collaborators is refused, 403) and reads
    # the public ``handbook``.
    ORG_LOGIN = "tributary-labs"
    ORG_REPOS = (("platform", True), ("vault", True), ("handbook", False))
    # Teams (slug, name, description, members as indexes into ``people``: 0 is the signed-in
    # user) and what each may do in which repository (GitHub's pull / triage / push /
    # maintain / admin).
    TEAMS = (("core", "Core", "The people who build the platform", (0, 1, 2, 3)),
             ("docs", "Docs", "Writers of the handbook", (4, 5)),
             ("security", "Security", "Keepers of the vault", (6, 7)))
    TEAM_REPOS = {"platform": {"core": "push", "docs": "pull"}, "vault": {"security": "admin"},
                  "handbook": {"docs": "push"}}
    ORG_OWNERS = (9,)                 # admins of the organization: admin on every repository
    ORG_MEMBERS_ELSEWHERE = (8,)      # members on no team: no access to its private repositories
    # Direct grants on the organization's repositories: (repository, person, permission).
    ORG_GRANTS = (("platform", 10, "triage"), ("vault", 0, "pull"))

    def __init__(self, seed: int, scale: int):
        self.seed = seed
        self.scale = scale
        self._lock = threading.RLock()
        rnd = seeded(seed, "github", "owner")
        self.owner = {
            "login": self.OWNER_LOGIN, "id": 90_000_000 + rnd.randrange(9_000_000),
            "name": "Octo Sandbox", "email": "octo-sandbox@example.com",
            "company": "Tributary Labs", "location": rnd.choice(CITIES),
            "bio": "The signed-in user of the Tributary provider sandbox.",
            "created": START - 900 * DAY, "updated": START + 30 * DAY,
        }
        self.people = [self.owner]
        seen = {self.OWNER_LOGIN}
        for i in range(23):
            r = seeded(seed, "github", "person", i)
            first, last = person_name(r)
            login = f"{first}-{last}".lower()
            if login in seen:
                login = f"{login}{i}"
            seen.add(login)
            self.people.append({"login": login, "id": 1_000_000 + r.randrange(80_000_000),
                                "name": f"{first} {last}"})
        self._repos: list[dict] | None = None
        self._repo_index: dict[str, dict] = {}
        self._repo_views: dict[tuple, list] = {}     # repositories never change
        self._issues = LRU(128)
        self._discussions = LRU(128)
        self._ops: dict[str, list[tuple]] = {}
        self._discussion_ops: dict[str, list[tuple]] = {}
        # Who may read which repository: direct collaborators per repository (full name ->
        # {person index: permission}), built on first use, and the changes made through the API
        # (PUT/DELETE collaborators), replayed over the seeded grants.
        self._grants: dict[str, dict[int, str]] | None = None
        self._access_ops: list[tuple] = []

    # repositories
    def repos(self) -> list[dict]:
        with self._lock:
            if self._repos is None:
                names: set[str] = set()
                repos = []
                for i in range(self.scale):
                    repos.append(self._make_repo(i, names))
                self._repos = repos
                self._repo_index = {r["name"].lower(): r for r in repos}
            return self._repos

    def _make_repo(self, i: int, names: set[str]) -> dict:
        r = seeded(self.seed, "github", "repo", i)
        name = "tributary-demo" if i == 0 else f"{r.choice(REPO_FIRST)}-{r.choice(REPO_SECOND)}"
        if name in names:
            name = f"{name}-{i}"
        names.add(name)
        created = int(START + r.random() * 0.4 * (END - START))
        pushed = int(END - r.random() * 60 * DAY)
        return {
            "index": i, "name": name, "full_name": f"{self.OWNER_LOGIN}/{name}",
            "id": 600_000_000 + i * 7919 + r.randrange(7919), "private": r.random() < 0.3,
            "description": f"{r.choice(['Service', 'Library', 'Tooling', 'Experiments'])} for "
                           f"the {r.choice(COMPONENTS)}",
            "language": r.choice(LANGUAGES), "created": created, "pushed": pushed,
            "updated": max(pushed - r.randrange(3 * DAY), created),
            "stars": int(r.paretovariate(1.2)) - 1, "forks": r.randrange(12),
            "topics": sorted(r.sample(["sync", "oauth", "connectors", "search", "etl", "ai",
                                       "flask", "cli", "data"], 2)),
        }

    def repo_view(self, key: tuple, build) -> list:
        """A sorted/filtered listing of the repositories, built once."""
        with self._lock:
            if key not in self._repo_views:
                self._repo_views[key] = build()
            return self._repo_views[key]

    def repo(self, owner: str, name: str) -> dict | None:
        self.repos()
        if owner.lower() == self.COMMUNITY_LOGIN:
            return self.community().get(name.lower())
        if owner.lower() == self.ORG_LOGIN:
            return self.org_repos().get(name.lower())
        if owner.lower() != self.OWNER_LOGIN:
            return None
        return self._repo_index.get(name.lower())

    @property
    def community_owner(self) -> dict:
        return {"login": self.COMMUNITY_LOGIN, "id": 95_000_001, "name": "Octo Community"}

    def community(self) -> dict[str, dict]:
        """The other owner's public repositories, by lower-case name."""
        with self._lock:
            if not hasattr(self, "_community"):
                found = {}
                for k, name in enumerate(self.COMMUNITY_REPOS):
                    repo = self._make_repo(10_000 + k, set())
                    repo.update(name=name, full_name=f"{self.COMMUNITY_LOGIN}/{name}", private=False,
                                owner_login=self.COMMUNITY_LOGIN)
                    found[name] = repo
                self._community = found
            return self._community

    def listed_repos(self) -> list[dict]:
        """What ``GET /user/repos`` lists: the user's own repositories and those of its
        organization (the endpoint's default affiliation includes organization_member)."""
        return self.repos() + list(self.org_repos().values())

    # the organization, its teams, and who may read each repository
    @property
    def org(self) -> dict:
        return {"login": self.ORG_LOGIN, "id": 96_000_001, "name": "Tributary Labs"}

    def org_repos(self) -> dict[str, dict]:
        """The organization's repositories, by lower-case name."""
        with self._lock:
            if not hasattr(self, "_org_repos"):
                found = {}
                for k, (name, private) in enumerate(self.ORG_REPOS):
                    repo = self._make_repo(20_000 + k, set())
                    repo.update(name=name, full_name=f"{self.ORG_LOGIN}/{name}", private=private,
                                owner_login=self.ORG_LOGIN)
                    found[name] = repo
                self._org_repos = found
            return self._org_repos

    def team(self, slug: str) -> dict | None:
        for k, (team_slug, name, description, members) in enumerate(self.TEAMS):
            if team_slug == slug.lower():
                return {"id": 7_100_000 + k, "slug": team_slug, "name": name, "description": description,
                        "members": members}
        return None

    def org_members(self) -> set[int]:
        members = {0, *self.ORG_OWNERS, *self.ORG_MEMBERS_ELSEWHERE}
        for *_, people in self.TEAMS:
            members.update(people)
        return members

    def grants(self, repo: dict) -> dict[int, str]:
        """Direct collaborators of a repository: {person index: permission}. A user's own
        repository has its owner as admin; a private one 1-3 more people, a public one 0-1."""
        with self._lock:
            if self._grants is None:
                grants: dict[str, dict[int, str]] = {}
                for r in self.repos():
                    rnd = seeded(self.seed, "github", r["full_name"], "collaborators")
                    chosen = {0: "admin"}
                    for person in rnd.sample(range(11, len(self.people)),
                                             rnd.randint(1, 3) if r["private"] else rnd.randint(0, 1)):
                        chosen[person] = rnd.choice(["push", "push", "pull", "triage", "maintain"])
                    grants[r["full_name"]] = chosen
                for name, person, permission in self.ORG_GRANTS:
                    grants.setdefault(f"{self.ORG_LOGIN}/{name}", {})[person] = permission
                for op in self._access_ops:
                    self._apply_access(grants, op)
                self._grants = grants
            return self._grants.setdefault(repo["full_name"], {})

    def repo_teams(self, repo: dict) -> dict[str, str]:
        """{team slug: permission} of the teams with access to an organization's repository."""
        if repo.get("owner_login") != self.ORG_LOGIN:
            return {}
        return dict(self.TEAM_REPOS.get(repo["name"], {}))

    def collaborators(self, repo: dict, affiliation: str = "all") -> dict[int, str]:
        """Who GitHub lists as a repository's collaborators, {person index: permission}, the
        strongest grant winning. ``all``: direct collaborators, the members of teams with
        access and (for an organization's repository) its owners; ``direct``: the direct
        grants; ``outside``: direct collaborators who are not members of the organization."""
        direct = dict(self.grants(repo))
        if affiliation == "direct":
            return direct
        org = repo.get("owner_login") == self.ORG_LOGIN
        if affiliation == "outside":
            return {p: perm for p, perm in direct.items() if org and p not in self.org_members()}
        found = dict(direct)
        if org:
            for slug, permission in self.repo_teams(repo).items():
                for person in self.team(slug)["members"]:
                    found[person] = strongest(found.get(person), permission)
            for person in self.ORG_OWNERS:
                found[person] = "admin"
        return found

    def viewer_permission(self, repo: dict) -> str | None:
        """The signed-in user's permission on a repository (None: none; a public one is still
        readable)."""
        if repo.get("owner_login") == self.COMMUNITY_LOGIN:
            return None
        return self.collaborators(repo).get(0)

    def set_collaborator(self, repo: dict, person: int, permission: str | None) -> None:
        """Grant (or, with None, remove) a direct collaborator."""
        with self._lock:
            op = ("collaborator", {"repo": repo["full_name"], "person": person, "permission": permission})
            self.grants(repo)
            self._access_ops.append(op)
            self._apply_access(self._grants, op)

    def invite(self, repo: dict, person: int, permission: str, at: int) -> dict:
        """Invite someone to collaborate (pending until accepted: it grants nothing yet)."""
        with self._lock:
            number = sum(1 for kind, _ in self._access_ops if kind == "invitation")
            invitation = {"id": 3_000_000 + number, "repo": repo["full_name"], "person": person,
                          "permission": permission, "at": at}
            self._access_ops.append(("invitation", invitation))
            return invitation

    @staticmethod
    def _apply_access(grants: dict, op: tuple) -> None:
        kind, fields = op
        if kind == "collaborator":
            chosen = grants.setdefault(fields["repo"], {})
            if fields["permission"] is None:
                chosen.pop(fields["person"], None)
            else:
                chosen[fields["person"]] = fields["permission"]

    def person_by_login(self, login: str) -> int | None:
        return next((i for i, p in enumerate(self.people) if p["login"].lower() == login.lower()), None)

    # issues, pull requests, comments
    def issues(self, repo: dict) -> RepoIssues:
        with self._lock:
            return self._issues.get_or_build(repo["full_name"], lambda: self._build_issues(repo))

    def _build_issues(self, repo: dict) -> RepoIssues:
        n_issues = self.scale
        data = RepoIssues(repo, comment_base=1_000_000_000 + repo["index"] * 10_000_000)
        lo, hi = repo["created"], END - DAY
        pending: list[GitHubComment] = []
        for number in range(1, n_issues + 1):
            r = seeded(self.seed, "github", repo["full_name"], "issue", number)
            issue = GitHubIssue()
            issue.number = number
            issue.created = spread(number - 1, n_issues, lo, hi, r)
            issue.updated = min(END, issue.created + int(r.expovariate(1 / (4 * DAY))) + 60)
            issue.closed = None
            issue.state_reason = None
            if r.random() < 0.55:
                issue.closed = min(END, issue.created + int(r.expovariate(1 / (3 * DAY))) + 600)
                issue.state_reason = "completed" if r.random() < 0.85 else "not_planned"
                issue.updated = max(issue.updated, issue.closed)
            issue.is_pr = r.random() < 0.35
            issue.merged = bool(issue.is_pr and issue.closed and r.random() < 0.8)
            if issue.is_pr:
                issue.state_reason = None
            issue.draft = bool(issue.is_pr and not issue.closed and r.random() < 0.2)
            issue.author = r.randrange(len(self.people))
            issue.assignee = r.choice([None, None, r.randrange(len(self.people))])
            issue.labels = sorted(r.sample(range(len(LABELS)), r.choice([0, 1, 1, 2])))
            issue.title = None
            issue.body = None
            issue.locked = False
            issue.comments = []
            count = r.choices(range(6), weights=[30, 25, 20, 12, 8, 5])[0]
            horizon = min(END, issue.created + 20 * DAY)
            stamps = sorted(r.randint(issue.created + 60, max(issue.created + 120, horizon))
                            for _ in range(count))
            for k, stamp in enumerate(stamps):
                comment = GitHubComment()
                comment.number = number
                comment.created = stamp
                comment.updated = stamp + (r.randrange(3600) if r.random() < 0.1 else 0)
                comment.author = r.randrange(len(self.people))
                comment.body = None
                comment.key = (number, k)
                issue.comments.append(comment)
                pending.append(comment)
                issue.updated = max(issue.updated, comment.updated)
            data.by_number[number] = issue
        pending.sort(key=lambda c: (c.created, c.number, c.key))
        for rank, comment in enumerate(pending):
            comment.id = data.comment_base + rank
        data.comments = pending
        for op in self._ops.get(repo["full_name"], []):
            self._apply(data, op)
        return data

    def export_writes(self) -> dict:
        """The writes made so far (issues, comments, discussion comments), as JSON-able data."""
        with self._lock:
            return {"issues": {repo: [list(op) for op in ops] for repo, ops in self._ops.items()},
                    "discussions": {repo: [list(op) for op in ops] for repo, ops in self._discussion_ops.items()},
                    "access": [list(op) for op in self._access_ops]}

    def load_writes(self, writes: dict) -> None:
        """Replay saved writes (before anything is built: each repository applies its own when
        it is first read)."""
        with self._lock:
            self._ops = {repo: [tuple(op) for op in ops] for repo, ops in writes.get("issues", {}).items()}
            self._discussion_ops = {repo: [tuple(op) for op in ops]
                                    for repo, ops in writes.get("discussions", {}).items()}
            self._access_ops = [tuple(op) for op in writes.get("access", [])]
            self._grants = None
            self._issues.clear()
            self._discussions.clear()

    def record(self, repo: dict, op: tuple) -> RepoIssues:
        """Append a write (create issue / patch issue / create comment) and apply it."""
        with self._lock:
            data = self.issues(repo)
            self._ops.setdefault(repo["full_name"], []).append(op)
            self._apply(data, op)
            data.views.clear()
            return data

    def _apply(self, data: RepoIssues, op: tuple) -> None:
        kind, fields = op
        if kind == "create_issue":
            issue = GitHubIssue()
            issue.number = fields["number"]
            issue.created = issue.updated = fields["at"]
            issue.closed = None
            issue.state_reason = None
            issue.is_pr = issue.merged = issue.draft = issue.locked = False
            issue.author = 0
            issue.assignee = None
            issue.labels = [i for i, label in enumerate(LABELS) if label[0] in fields["labels"]]
            issue.comments = []
            issue.title = fields["title"]
            issue.body = fields["body"]
            data.by_number[issue.number] = issue
        elif kind == "patch_issue":
            issue = data.by_number[fields["number"]]
            issue.title = fields.get("title", self.issue_text(data.repo, issue)[0])
            if "body" in fields:
                issue.body = fields["body"]
            if fields.get("state") == "closed" and not issue.closed:
                issue.closed = fields["at"]
                issue.state_reason = fields.get("state_reason") or "completed"
            elif fields.get("state") == "open" and issue.closed:
                issue.closed = None
                issue.state_reason = "reopened"
            issue.updated = fields["at"]
        elif kind == "add_labels":
            issue = data.by_number[fields["number"]]
            for name in fields["labels"]:
                if name not in (label[0] for label in LABELS):
                    LABELS.append((name, "ededed", ""))     # GitHub creates a label it does not know
                index = next(i for i, label in enumerate(LABELS) if label[0] == name)
                if index not in issue.labels:
                    issue.labels = sorted([*issue.labels, index])
            issue.updated = fields["at"]
        elif kind == "delete_comment":
            comment = next(c for c in data.comments if c.id == fields["id"])
            data.comments.remove(comment)
            data.by_number[comment.number].comments.remove(comment)
            data.deleted_comments += 1
        elif kind == "create_comment":
            issue = data.by_number[fields["number"]]
            comment = GitHubComment()
            comment.id = data.comment_base + len(data.comments) + data.deleted_comments
            comment.number = issue.number
            comment.created = comment.updated = fields["at"]
            comment.author = 0
            comment.body = fields["body"]
            comment.key = (issue.number, len(issue.comments))
            issue.comments.append(comment)
            data.comments.append(comment)
            issue.updated = fields["at"]

    def issue_text(self, repo: dict, issue: GitHubIssue) -> tuple[str, str]:
        r = seeded(self.seed, "github", repo["full_name"], "issue-text", issue.number)
        component = r.choice(COMPONENTS)
        if issue.is_pr:
            title = f"{r.choice(PR_VERBS)} {component}: {r.choice(FEATURES)}"
        elif r.random() < 0.6:
            title = f"The {component} {r.choice(BUG_SYMPTOMS)}"
        else:
            title = f"Feature request: {r.choice(FEATURES)} in the {component}"
        body = " ".join(r.sample(SENTENCES, r.randint(2, 4)))
        if issue.is_pr:
            body = f"## Summary\n\n{body}\n\nCloses #{max(1, issue.number - r.randint(1, 5))}."
        return (issue.title if issue.title is not None else title,
                issue.body if issue.body is not None else body)

    def comment_text(self, repo: dict, comment: GitHubComment) -> str:
        if comment.body is not None:
            return comment.body
        r = seeded(self.seed, "github", repo["full_name"], "comment", *comment.key)
        return r.choice(COMMENTS) + ("" if r.random() < 0.6 else " " + r.choice(SENTENCES))

    # discussions, numbered right after the seeded issues and pull requests (unlike on GitHub,
    # an issue created through the API may then share its number with a discussion)
    def discussion_count(self, repo: dict) -> int:
        if repo["index"] == 0:          # the demo repository always has a few pages of them
            return max(3, self.scale // 2)
        r = seeded(self.seed, "github", repo["full_name"], "discussions")
        return 2 + r.randrange(max(1, self.scale // 2))

    def discussions(self, repo: dict) -> list[GitHubDiscussion]:
        with self._lock:
            return self._discussions.get_or_build(repo["full_name"],
                                                  lambda: self._build_discussions(repo))

    def _build_discussions(self, repo: dict) -> list[GitHubDiscussion]:
        count = self.discussion_count(repo)
        lo, hi = repo["created"], END - DAY
        out = Discussions()
        for k in range(count):
            number = self.scale + 1 + k
            r = seeded(self.seed, "github", repo["full_name"], "discussion", number)
            item = GitHubDiscussion()
            item.number = number
            item.created = spread(k, count, lo, hi, r)
            item.updated = min(END, item.created + int(r.expovariate(1 / (6 * DAY))) + 60)
            item.author = r.randrange(len(self.people))
            item.comments = []
            for c in range(r.choices(range(5), weights=[25, 30, 20, 15, 10])[0]):
                stamp = min(END, item.created + r.randint(120, 15 * DAY))
                item.comments.append((r.randrange(len(self.people)), stamp, None))
                item.updated = max(item.updated, stamp)
            item.comments.sort(key=lambda c: c[1])
            out.append(item)
        for op in self._discussion_ops.get(repo["full_name"], []):
            self._apply_discussion(out, op)
        return out

    def record_discussion(self, repo: dict, op: tuple) -> list[GitHubDiscussion]:
        """Append a discussion write (add a comment) and apply it."""
        with self._lock:
            items = self.discussions(repo)
            self._discussion_ops.setdefault(repo["full_name"], []).append(op)
            self._apply_discussion(items, op)
            items.views.clear()
            return items

    @staticmethod
    def _apply_discussion(items: list[GitHubDiscussion], op: tuple) -> None:
        kind, fields = op
        if kind == "add_discussion_comment":
            item = next(d for d in items if d.number == fields["number"])
            item.comments.append((0, fields["at"], fields["body"]))
            item.updated = max(item.updated, fields["at"])

    def discussion_text(self, repo: dict, item: GitHubDiscussion) -> tuple[str, str]:
        r = seeded(self.seed, "github", repo["full_name"], "discussion-text", item.number)
        component = r.choice(COMPONENTS)
        title = r.choice([f"How do you configure the {component}?",
                          f"Idea: {r.choice(FEATURES)}",
                          f"Show and tell: our {component} setup",
                          f"Question about the {component} in production"])
        body = " ".join(r.sample(SENTENCES, r.randint(1, 3)))
        return title, body

    def discussion_comment_text(self, repo: dict, item: GitHubDiscussion, index: int) -> str:
        body = item.comments[index][2]
        if body is not None:
            return body
        r = seeded(self.seed, "github", repo["full_name"], "discussion-comment", item.number, index)
        return r.choice(COMMENTS)

    def sha(self, repo: dict, number: int, which: str) -> str:
        key = f"{self.seed}/{repo['full_name']}/{number}/{which}"
        return hashlib.sha1(key.encode()).hexdigest()


PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")   # weakest first


def strongest(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return a if PERMISSIONS.index(a) >= PERMISSIONS.index(b) else b


# == Pipedrive ================================================================================

STAGES = ["Qualified", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started"]


class PipedriveData:
    def __init__(self, seed: int, scale: int):
        self.seed = seed
        self.scale = scale
        self._lock = threading.RLock()
        r = seeded(seed, "pipedrive", "company")
        self.company = {"id": 10_000_000 + r.randrange(9_000_000), "name": "Acme Sandbox Ltd",
                        "domain": "acme-sandbox", "country": "US"}
        self.users = []
        for i in range(4):
            ur = seeded(seed, "pipedrive", "user", i)
            first, last = ("Pat", "Sandbox") if i == 0 else person_name(ur)
            self.users.append({
                "id": 20_000_000 + ur.randrange(9_000_000), "name": f"{first} {last}",
                "email": f"{first}.{last}@acme-sandbox.example".lower(),
                "created": START - 400 * DAY + i * 30 * DAY,
            })
        self.orgs = []
        for i, company in enumerate(COMPANIES):
            orr = seeded(seed, "pipedrive", "org", i)
            self.orgs.append({"id": i + 1, "name": company, "owner": orr.randrange(4),
                              "address": f"{orr.randint(1, 400)} Market Street, "
                                         f"{orr.choice(CITIES)}"})
        self.persons = []
        for i in range(40):
            pr = seeded(seed, "pipedrive", "person", i)
            first, last = person_name(pr)
            org = self.orgs[pr.randrange(len(self.orgs))]
            domain = org["name"].lower().replace(" & ", "-").replace(" ", "") + ".example"
            self.persons.append({"id": i + 1, "name": f"{first} {last}", "org_id": org["id"],
                                 "email": f"{first}.{last}@{domain}".lower(),
                                 "phone": f"+1 555 {pr.randint(100, 999)} {pr.randint(1000, 9999)}",
                                 "owner": org["owner"]})
        self._index: dict[str, list[tuple]] = {}
        # Writes (PUT /deals/{id}, PUT /activities/{id}): fields replayed over the seeded record.
        self._patches: dict[tuple[str, int], dict] = {}
        # Derived from the index and the records, so that a list page costs O(page), not O(N):
        # sorted/filtered views of the index (built once, dropped on any write) and each
        # record's rendered JSON (dropped when a write changes it). See view() and rendered().
        self._views = LRU(64)
        self._rendered: dict[str, dict] = {}
        self._generation = 0
        self._people_count: dict[int, int] = {}
        # Deleted records: (stream, key) -> when. Lists leave them out; a deal stays readable by
        # id as deleted (Pipedrive keeps deleted deals 30 days), an activity or a lead is gone.
        self.deleted: dict[tuple[str, int], int] = {}
        self._lead_numbers: dict[str, int] | None = None
        # Activities and notes created through the API (POST /activities, /notes): an activity's
        # fields as activity() gives them (its deal by id), ids following the seeded ones (SCALE+1...),
        # so the lists, recents and v2 read them like the others; notes (none is seeded) ids 1...
        self.created: dict[str, list[dict]] = {"activity": [], "note": []}

    def create(self, kind: str, fields: dict) -> dict:
        """Add an activity (the fields activity() returns, ``deal_id`` for its deal) or a note;
        the stored record, with its id."""
        with self._lock:
            first = self.scale if kind == "activity" else 0
            record = {**fields, "id": first + len(self.created[kind]) + 1}
            self.created[kind].append(record)
            if kind == "activity" and "activity" in self._index:
                self._index["activity"].append(self._row("activity", record["id"]))
            self._generation += 1
            self._views.clear()
            return record

    def exists(self, stream: str, key: int) -> bool:
        """A seeded or created activity (or a seeded deal) with this id, deleted or not."""
        created = len(self.created["activity"]) if stream == "activity" else 0
        return isinstance(key, int) and 1 <= key <= self.scale + created

    def note(self, note_id: int) -> dict | None:
        found = self.created["note"][note_id - 1] if 1 <= note_id <= len(self.created["note"]) else None
        if found is None or self.is_deleted("note", note_id):
            return None
        return self._patched("note", note_id, dict(found))

    # writes
    def export_writes(self) -> dict:
        with self._lock:
            return {"patches": [[stream, key, dict(fields)] for (stream, key), fields in self._patches.items()],
                    "deleted": [[stream, key, at] for (stream, key), at in self.deleted.items()],
                    "created": {kind: [dict(r) for r in rows] for kind, rows in self.created.items()}}

    def load_writes(self, writes: dict) -> None:
        """Replay saved patches and deletions (before any view is built; the index is rebuilt
        with them)."""
        with self._lock:
            self._patches = {(stream, int(key)): dict(fields) for stream, key, fields in writes.get("patches", [])}
            self.deleted = {(stream, int(key)): at for stream, key, at in writes.get("deleted", [])}
            saved = writes.get("created") or {}
            self.created = {kind: [dict(r) for r in saved.get(kind, [])] for kind in ("activity", "note")}
            self._index.clear()
            self._views.clear()
            self._rendered.clear()
            self._generation += 1

    def patch(self, stream: str, key: int, fields: dict, at: int) -> None:
        """Change a deal or an activity: its update time becomes ``at`` (recents see it)."""
        with self._lock:
            before = self.deal(key) if stream == "deal" else self.activity(key)
            patch = self._patches.setdefault((stream, key), {})
            if stream == "deal" and "status" in fields and fields["status"] != before["status"]:
                patch["close"] = None if fields["status"] == "open" else at
            if stream == "activity" and "done" in fields and bool(fields["done"]) != before["done"]:
                patch["done_time"] = at if fields["done"] else None
            patch.update(fields)
            patch["update"] = at
            if stream in self._index:
                self._index[stream][key - 1] = self._row(stream, key)     # ids are positions (created follow)
            # Everything derived goes: views (order and filters may change), this record's
            # rendering, and for a deal every activity's (an activity embeds its deal).
            self._generation += 1
            self._views.clear()
            self._rendered.get(stream, {}).pop(key, None)
            if stream == "deal":
                self._rendered.pop("activity", None)

    def delete(self, stream: str, key: int, at: int) -> bool:
        """Delete a deal, an activity or a lead (by number); False if it was already gone."""
        with self._lock:
            if (stream, key) in self.deleted or not self.exists(stream, key):
                return False
            self.deleted[(stream, key)] = at
            self._generation += 1
            self._views.clear()
            self._rendered.get(stream, {}).pop(key, None)
            return True

    def is_deleted(self, stream: str, key: int) -> bool:
        return (stream, key) in self.deleted

    def lead_number(self, lead_id: str) -> int | None:
        """The number of the lead whose id (a UUID) is ``lead_id``."""
        with self._lock:
            if self._lead_numbers is None:
                self._lead_numbers = {self.lead(i)["id"]: i for i in range(1, self.scale + 1)}
            return self._lead_numbers.get(lead_id)

    def _patched(self, stream: str, key: int, record: dict) -> dict:
        patch = self._patches.get((stream, key))
        if patch:
            record.update(patch)
        return record

    # records, regenerated on demand
    def deal(self, deal_id: int) -> dict:
        r = seeded(self.seed, "pipedrive", "deal", deal_id)
        add = spread(deal_id - 1, self.scale, START, END - 2 * DAY, r)
        update = min(END, add + int(r.expovariate(1 / (10 * DAY))) + 300)
        status = r.choices(["open", "won", "lost"], weights=[60, 25, 15])[0]
        close = None
        if status != "open":
            close = min(END, add + int(r.expovariate(1 / (20 * DAY))) + DAY)
        if close:
            update = max(update, close)
        person = self.persons[r.randrange(len(self.persons))]
        org = next(o for o in self.orgs if o["id"] == person["org_id"])
        value = round(r.lognormvariate(8.5, 0.9) / 50) * 50
        stage = r.randrange(len(STAGES)) + 1
        return self._patched("deal", deal_id, {
            "id": deal_id, "title": f"{org['name']} {r.choice(DEAL_PRODUCTS)}", "value": value,
            "currency": r.choice(["USD", "USD", "EUR", "GBP"]), "add": add, "update": update,
            "status": status, "close": close, "stage_id": stage, "person": person, "org": org,
            "owner": self.users[org["owner"]], "creator": self.users[r.randrange(4)],
            "probability": None if status != "open" else r.choice([None, 20, 50, 80]),
            "expected_close_date": day(add + r.randint(14, 120) * DAY),
            "lost_reason": (r.choice(["Price", "Timing", "Chose a competitor"])
                            if status == "lost" else None),
            "activities_count": r.randint(0, 6), "notes_count": r.randint(0, 4),
            "visible": self.visibility("deal", deal_id),
        })

    def activity(self, activity_id: int) -> dict:
        if activity_id > self.scale:            # created through the API
            made = dict(self.created["activity"][activity_id - self.scale - 1])
            deal_id = made.pop("deal_id", None)
            return self._patched("activity", activity_id, {**made, "deal": self.deal(deal_id) if deal_id else None})
        r = seeded(self.seed, "pipedrive", "activity", activity_id)
        add = spread(activity_id - 1, self.scale, START, END - 2 * DAY, r)
        due = add + r.randint(0, 30) * DAY
        done = due < END - 20 * DAY and r.random() < 0.7
        update = min(END, (due + r.randrange(DAY)) if done else add + r.randrange(5 * DAY))
        update = max(update, add)
        deal = self.deal(1 + r.randrange(self.scale))
        type_key, type_name = r.choice(ACTIVITY_TYPES)
        return self._patched("activity", activity_id, {
            "id": activity_id, "type": type_key, "type_name": type_name,
            "subject": f"{r.choice(ACTIVITY_SUBJECTS)} with {deal['person']['name']}",
            "add": add, "update": update, "due": due, "done": done,
            "done_time": update if done else None, "duration": r.choice(["", "00:30", "01:00"]),
            "due_time": r.choice(["", "09:30", "14:00", "16:15"]), "deal": deal,
            "owner": deal["owner"],
            "note": r.choice(["", "Bring the updated pricing sheet.", "Ask about SSO requirements.",
                              "Send recap afterwards."]),
        })

    def lead(self, number: int) -> dict:
        r = seeded(self.seed, "pipedrive", "lead", number)
        add = spread(number - 1, self.scale, START, END - 2 * DAY, r)
        update = min(END, add + int(r.expovariate(1 / (7 * DAY))) + 120)
        person = self.persons[r.randrange(len(self.persons))]
        org = next(o for o in self.orgs if o["id"] == person["org_id"])
        return {
            "number": number, "id": str(uuid.UUID(int=h64(self.seed, "lead", number) << 64
                                                 | h64(self.seed, "lead-lo", number), version=4)),
            "title": f"{org['name']} lead", "add": add, "update": update, "person": person,
            "org": org, "owner": self.users[org["owner"]], "creator": self.users[r.randrange(4)],
            "archived": r.random() < 0.1, "seen": r.random() < 0.7,
            "value": None if r.random() < 0.3 else {"amount": r.randint(5, 200) * 100,
                                                     "currency": "USD"},
            "source_name": r.choice(["API", "Manually created", "Web forms", "Prospector"]),
            "expected_close_date": None if r.random() < 0.5 else day(add + r.randint(20, 90) * DAY),
            "visible": self.visibility("lead", number),
        }

    def visibility(self, stream: str, key: int) -> int:
        """A record's ``visible_to``: the company has one visibility group (an Essential/Advanced
        plan), so about a third are its owner's (1: owner & followers), the rest everyone's
        (3: entire company). Drawn apart from the record's other fields, which stay as they were."""
        return seeded(self.seed, "pipedrive", stream, "visible_to", key).choices([1, 3], weights=[35, 65])[0]

    def index(self, stream: str) -> list[tuple]:
        """(update, add, key, flag, owner_id) of every record of a stream, in id order.

        key is the deal/activity id or the lead number; flag is the deal status, whether the
        activity is done, or whether the lead is archived.
        """
        with self._lock:
            if stream not in self._index:
                made = len(self.created["activity"]) if stream == "activity" else 0
                self._index[stream] = [self._row(stream, i) for i in range(1, self.scale + made + 1)]
            return self._index[stream]

    def view(self, key: tuple, build) -> list:
        """A derived list of index rows (a filter, a sort order), built once by ``build()``
        and kept until the next write, so a list page can slice or bisect it."""
        with self._lock:
            return self._views.get_or_build(key, build)

    def rendered(self, kind: str, key, render):
        """``render(key)`` (a record's serialised JSON, or anything derived from the record),
        computed once and kept until a write changes the record."""
        cache = self._rendered.get(kind)
        value = cache.get(key) if cache is not None else None
        if value is None:
            generation = self._generation
            value = render(key)
            with self._lock:
                if self._generation == generation:      # no write raced with the rendering
                    self._rendered.setdefault(kind, {})[key] = value
        return value

    def people_count(self, org_id: int) -> int:
        count = self._people_count.get(org_id)
        if count is None:
            count = self._people_count[org_id] = sum(1 for p in self.persons
                                                     if p["org_id"] == org_id)
        return count

    def _row(self, stream: str, i: int) -> tuple:
        if stream == "deal":
            rec = self.deal(i)
            flag = rec["status"]
        elif stream == "activity":
            rec = self.activity(i)
            flag = rec["done"]
        else:
            rec = self.lead(i)
            flag = rec["archived"]
        return (rec["update"], rec["add"], i, flag, rec["owner"]["id"])


# == X ========================================================================================

TWITTER_EPOCH_MS = 1288834974657
USERNAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"
SANDBOX_PREFIX = "sandbox_"
SANDBOX_ID_PREFIX = "88"


class XData:
    KNOWN = {
        "acme": {"id": "1234567890", "name": "Acme Corp", "username": "acme",
                 "description": "We make everything. Support: @acme_help",
                 "created": START - 3000 * DAY, "verified": True},
        "tributary": {"id": "1601234567890123456", "name": "Tributary", "username": "tributary",
                      "description": "Connect your SaaS tools, keep them in sync, search them.",
                      "created": START - 500 * DAY, "verified": False},
        "jack": {"id": "12", "name": "jack", "username": "jack",
                 "description": "no state is the best state",
                 "created": calendar.timegm((2006, 3, 21, 20, 50, 14)), "verified": True},
    }

    def __init__(self, seed: int, scale: int):
        self.seed = seed
        self.scale = scale
        self._lock = threading.RLock()
        self._timelines = LRU(256)
        # Posts published through POST /_sandbox/x/posts: user id -> [(id, created, text)].
        self._published: dict[str, list[tuple[int, int, str]]] = {}
        # Per user: published + seeded posts (dropped on publish), and whether a timeline's
        # ids are in order, as (that timeline, flag).
        self._combined: dict[str, list[tuple[int, int]]] = {}
        self._ordered: dict[str, tuple[list, bool]] = {}
        self._texts: dict[int, str] = {}
        # Deleted posts, per user id; and whose timeline holds a post id (for lookups by id).
        self._deleted: dict[str, set[int]] = {}
        self._owner_of: dict[int, str] = {}

    @staticmethod
    def _encode(suffix: str) -> int:
        # Bijective base-37 over the part after "sandbox_" (at most 7 characters), so every
        # sandbox username maps to its own short numeric id and back, with no registry.
        value = 0
        for ch in suffix:
            value = value * 37 + USERNAME_ALPHABET.index(ch) + 1
        return value

    @staticmethod
    def _decode(value: int) -> str:
        chars = []
        while value > 0:
            value, rem = divmod(value - 1, 37)
            chars.append(USERNAME_ALPHABET[rem])
        return "".join(reversed(chars))

    def by_username(self, username: str) -> dict | None:
        key = username.lower()
        if key in self.KNOWN:
            return self._profile(self.KNOWN[key])
        if key.startswith(SANDBOX_PREFIX) and len(key) <= 15:
            suffix = key[len(SANDBOX_PREFIX):]
            user_id = SANDBOX_ID_PREFIX + f"{self._encode(suffix):011d}"
            r = seeded(self.seed, "x", "user", key)
            first, last = person_name(r)
            return self._profile({
                "id": user_id, "username": key, "name": f"{first} {last}",
                "description": f"{r.choice(['Building', 'Writing about', 'Tinkering with'])} "
                               f"{r.choice(TWEET_THINGS)}. Sandbox account.",
                "created": START - r.randrange(2000) * DAY, "verified": False,
            })
        return None

    def by_id(self, user_id: str) -> dict | None:
        for account in self.KNOWN.values():
            if account["id"] == user_id:
                return self._profile(account)
        if user_id.startswith(SANDBOX_ID_PREFIX) and len(user_id) == 13 and user_id.isdigit():
            suffix = self._decode(int(user_id[len(SANDBOX_ID_PREFIX):]))
            if len(suffix) <= 7:
                return self.by_username(SANDBOX_PREFIX + suffix)
        return None

    def _profile(self, account: dict) -> dict:
        r = seeded(self.seed, "x", "metrics", account["id"])
        profile = dict(account)
        profile["public_metrics"] = {
            "followers_count": int(r.paretovariate(0.9) * 40),
            "following_count": r.randint(20, 900),
            "tweet_count": self.scale + r.randint(0, 40), "listed_count": r.randint(0, 120),
            "like_count": r.randint(10, 9000), "media_count": r.randint(0, 300),
        }
        profile["location"] = r.choice(CITIES)
        return profile

    def timeline(self, user: dict) -> list[tuple[int, int]]:
        """(tweet id, created) newest first; ids are snowflakes of the creation time."""
        def build():
            count = self.scale
            r = seeded(self.seed, "x", "timeline", user["id"])
            lo = max(user["created"], START)
            worker = h64(self.seed, "x", user["id"]) % 1024
            tweets = []
            for i in range(count):
                created = spread(i, count, lo, END, r)
                ms = created * 1000 + r.randrange(1000)
                tweets.append((((ms - TWITTER_EPOCH_MS) << 22) | (worker << 12) | (i % 4096),
                               created))
            tweets.reverse()
            return tweets
        with self._lock:
            seeded_posts = self._timelines.get_or_build(user["id"], build)
            published = self._published.get(user["id"])
            deleted = self._deleted.get(user["id"])
            if not published and not deleted:
                return self._owned(user, seeded_posts)
            combined = self._combined.get(user["id"])
            if combined is None:
                combined = [(tid, created) for tid, created, _ in reversed(published or [])]
                combined += seeded_posts
                if deleted:
                    combined = [t for t in combined if t[0] not in deleted]
                self._combined[user["id"]] = combined
            return self._owned(user, combined)

    def _owned(self, user: dict, timeline: list) -> list:
        # Published posts join at the front, seeded ones sit at the back: both ends registered
        # means every post of the timeline is (posts are only ever added at the front).
        if timeline and (self._owner_of.get(timeline[-1][0]) != user["id"]
                         or self._owner_of.get(timeline[0][0]) != user["id"]):
            self._owner_of.update((tid, user["id"]) for tid, _ in timeline)
        return timeline

    def delete(self, user: dict, tweet_id: int) -> bool:
        """Delete a post of ``user``; False if it is not on the timeline."""
        with self._lock:
            if not any(t[0] == tweet_id for t in self.timeline(user)):
                return False
            self._deleted.setdefault(user["id"], set()).add(tweet_id)
            self._combined.pop(user["id"], None)
            self._ordered.pop(user["id"], None)
            return True

    def lookup(self, tweet_id: int) -> tuple[dict, int] | None:
        """(author, created) of a post on a timeline the sandbox has built, not deleted."""
        with self._lock:
            owner = self._owner_of.get(tweet_id)
            user = self.by_id(owner) if owner else None
            if user is None or tweet_id in self._deleted.get(owner, ()):
                return None
            found = next((t for t in self.timeline(user) if t[0] == tweet_id), None)
            return (user, found[1]) if found else None

    def timeline_bounds(self, user: dict, since_id: int,
                        until_id: int | None) -> tuple[list, int, int]:
        """(timeline, lo, hi): timeline[lo:hi] are the posts with since_id < id < until_id,
        newest first; found by bisection when the ids are in order (they are, unless the
        scale packs posts closer than a second apart), by a filter otherwise."""
        timeline = self.timeline(user)
        with self._lock:
            known = self._ordered.get(user["id"])
            if known is not None and known[0] is timeline:
                ordered = known[1]
            else:
                ordered = all(timeline[i][0] > timeline[i + 1][0]
                              for i in range(len(timeline) - 1))
                if len(self._ordered) >= 256:
                    self._ordered.clear()
                self._ordered[user["id"]] = (timeline, ordered)
        if not ordered:
            rows = [t for t in timeline
                    if t[0] > since_id and (until_id is None or t[0] < until_id)]
            return rows, 0, len(rows)
        newest_first = lambda t: -t[0]  # noqa: E731
        lo = 0 if until_id is None else bisect.bisect_right(timeline, -until_id, key=newest_first)
        hi = bisect.bisect_left(timeline, -since_id, key=newest_first)
        return timeline, lo, max(lo, hi)

    def export_writes(self) -> dict:
        with self._lock:
            return {"published": {user: [list(post) for post in posts] for user, posts in self._published.items()},
                    "deleted": {user: sorted(ids) for user, ids in self._deleted.items()}}

    def load_writes(self, writes: dict) -> None:
        """Replay saved posts and deletions (before any timeline is built)."""
        with self._lock:
            self._published = {user: [tuple(post) for post in posts]
                               for user, posts in writes.get("published", {}).items()}
            self._deleted = {user: set(ids) for user, ids in writes.get("deleted", {}).items()}
            self._texts = {post[0]: post[2] for posts in self._published.values() for post in posts}
            self._combined.clear()
            self._ordered.clear()
            self._timelines.clear()

    def publish(self, user: dict, text: str, now: float) -> tuple[int, int]:
        """Add a post to ``user``'s timeline, created now (a newer snowflake than any other)."""
        with self._lock:
            published = self._published.setdefault(user["id"], [])
            worker = h64(self.seed, "x", user["id"]) % 1024
            tweet_id = ((int(now * 1000) - TWITTER_EPOCH_MS) << 22) | (worker << 12) | (len(published) % 4096)
            newest = max((t[0] for t in self.timeline(user)[:1]), default=0)
            tweet_id = max(tweet_id, newest + 1)
            published.append((tweet_id, int(now), text))
            self._owner_of[tweet_id] = user["id"]
            self._combined.pop(user["id"], None)
            self._texts[tweet_id] = text
            return tweet_id, int(now)

    def tweet(self, user: dict, tweet_id: int, created: int) -> dict:
        r = seeded(self.seed, "x", "tweet", tweet_id)
        text = r.choice(TWEET_TEMPLATES).format(thing=r.choice(TWEET_THINGS),
                                               tag=r.choice(HASHTAGS)).strip()
        text = self._texts.get(tweet_id, text)
        return {"id": str(tweet_id), "text": text, "created": created, "lang": "en",
                "metrics": {
                    "retweet_count": int(r.paretovariate(1.5)) - 1,
                    "reply_count": r.randint(0, 30), "like_count": int(r.paretovariate(1.1) * 3),
                    "quote_count": r.randint(0, 5), "bookmark_count": r.randint(0, 12),
                    "impression_count": r.randint(100, 50000)}}


# == Google / Gmail ===========================================================================

class GoogleData:
    def __init__(self, seed: int, scale: int):
        self.seed = seed
        self.scale = scale
        self._lock = threading.RLock()
        r = seeded(seed, "google", "user")
        self.user = {
            "sub": str(100_000_000_000_000_000_000 + r.randrange(10 ** 20)),
            "email": "sandbox.user@example.com", "name": "Sandbox User",
            "given_name": "Sandbox", "family_name": "User", "locale": "en",
        }
        self._messages: list[dict] | None = None
        # Derived from the (never changing) mailbox, built once: id -> metadata, the
        # profile's totals, each message's labels, and listings by label set.
        self._by_id: dict[str, dict] | None = None
        self._totals: tuple[int, int] | None = None
        self._labels: dict[int, frozenset] = {}
        self._labelled = LRU(64)

    def message_meta(self, message_id: str) -> dict | None:
        with self._lock:
            if self._by_id is None:
                self._by_id = {m["id"]: m for m in reversed(self.messages())}   # first wins
            return self._by_id.get(message_id)

    def totals(self) -> tuple[int, int]:
        """(thread count, highest historyId) of the mailbox."""
        with self._lock:
            if self._totals is None:
                messages = self.messages()
                self._totals = (len({m["threadId"] for m in messages}),
                                max((m["historyId"] for m in messages), default=100_000))
            return self._totals

    def labels_of(self, meta: dict) -> frozenset:
        labels = self._labels.get(meta["n"])
        if labels is None:
            labels = self._labels[meta["n"]] = frozenset(self.message(meta)["labels"])
        return labels

    def with_labels(self, labels: frozenset) -> list[dict]:
        """The messages carrying every label of ``labels``, newest first."""
        with self._lock:
            return self._labelled.get_or_build(labels, lambda: [
                m for m in self.messages() if labels <= self.labels_of(m)])

    def between(self, items: list[dict], after: int, before: int) -> tuple[int, int]:
        """(lo, hi): items[lo:hi] of newest-first ``items`` were received in [after, before)
        (epoch seconds). Receive times never decrease with creation order, so this bisects."""
        newest_first = lambda m: -(m["ms"] // 1000)  # noqa: E731
        lo = bisect.bisect_right(items, -before, key=newest_first)
        hi = bisect.bisect_right(items, -after, key=newest_first)
        return lo, max(lo, hi)

    def messages(self) -> list[dict]:
        """Light index, newest first: id, threadId, internal date (ms), historyId."""
        with self._lock:
            if self._messages is None:
                count = self.scale
                r = seeded(self.seed, "google", "mailbox")
                items = []
                thread = None
                for i in range(count):
                    created = spread(i, count, START, END, r)
                    ms = created * 1000 + r.randrange(1000)
                    msg_id = f"{(ms << 20) | (h64(self.seed, 'gmail', i) & 0xFFFFF):x}"
                    if thread is None or r.random() < 0.6:
                        thread = msg_id
                    items.append({"n": i, "id": msg_id, "threadId": thread, "ms": ms,
                                  "historyId": 100_000 + i * 7 + r.randrange(7)})
                items.reverse()
                self._messages = items
            return self._messages

    def message(self, meta: dict) -> dict:
        r = seeded(self.seed, "google", "message", meta["n"])
        first, last = person_name(r)
        company = r.choice(COMPANIES)
        address = f"{first}.{last}@{company.split()[0]}.example".lower()
        sender = f"{first} {last} <{address}>"
        subject = r.choice(MAIL_SUBJECTS).format(n=r.randint(100, 9999), q=r.randint(1, 4),
                                                 thing=r.choice(COMPONENTS))
        body = "\n\n".join([f"Hi {self.user['given_name']},",
                            " ".join(r.sample(SENTENCES, r.randint(2, 4))),
                            f"Best,\n{first}"])
        labels = ["INBOX"] + (["UNREAD"] if r.random() < 0.3 else []) + \
            [r.choice(["CATEGORY_PERSONAL", "CATEGORY_UPDATES", "CATEGORY_FORUMS"])]
        to = f"{self.user['name']} <{self.user['email']}>"
        if r.random() < 0.15:
            labels = ["SENT"]
            sender, to = to, sender
        return {"from": sender, "to": to, "subject": subject, "body": body, "labels": labels}
