"""The sandbox's GitHub permissions: an organization with teams, repositories' collaborators as
GitHub lists them, changes through the real PUT/DELETE endpoints and the control API, a
repository whose collaborators the signed-in user may not list, and the state file keeping it
all across a restart."""
from sandbox import create_app
from sandbox.seed import SeedData

GH = SeedData(42, 25).github
PRIVATE = next(r for r in GH.repos() if r["private"] and len(GH.grants(r)) > 1)
COLLABORATOR = GH.people[next(p for p in GH.grants(PRIVATE) if p)]["login"]


def token(sandbox) -> dict:
    minted = sandbox.post("/_sandbox/tokens", json={"provider": "github", "scope": "repo read:org"}).get_json()
    return {"Authorization": f"Bearer {minted['access_token']}"}


def logins(sandbox, headers, full_name, **params):
    answer = sandbox.get(f"/github/api/repos/{full_name}/collaborators", headers=headers,
                         query_string={"per_page": 100, **params})
    assert answer.status_code == 200, answer.get_json()
    return {c["login"]: c["role_name"] for c in answer.get_json()}


def test_collaborators_are_direct_grants_team_members_and_organization_owners(sandbox):
    headers = token(sandbox)
    # a user's repository: its owner (admin) and its direct collaborators
    assert logins(sandbox, headers, PRIVATE["full_name"])[GH.OWNER_LOGIN] == "admin"
    assert COLLABORATOR in logins(sandbox, headers, PRIVATE["full_name"])
    # an organization's: the members of its teams, its direct collaborators, its owners
    platform = logins(sandbox, headers, "tributary-labs/platform")
    core = {GH.people[p]["login"] for p in GH.team("core")["members"]}
    docs = {GH.people[p]["login"] for p in GH.team("docs")["members"]}
    owners = {GH.people[p]["login"] for p in GH.ORG_OWNERS}
    outside = GH.people[GH.ORG_GRANTS[0][1]]["login"]
    assert set(platform) == core | docs | owners | {outside}
    assert {platform[login] for login in docs} == {"read"} and {platform[login] for login in owners} == {"admin"}
    assert logins(sandbox, headers, "tributary-labs/platform", affiliation="outside") == {outside: "triage"}
    teams = sandbox.get("/github/api/repos/tributary-labs/platform/teams", headers=headers).get_json()
    assert {(t["slug"], t["permission"]) for t in teams} == {("core", "push"), ("docs", "pull")}
    members = sandbox.get("/github/api/orgs/tributary-labs/teams/core/members", headers=headers).get_json()
    assert {m["login"] for m in members} == core
    # no push access: GitHub will not list them
    refused = sandbox.get("/github/api/repos/tributary-labs/vault/collaborators", headers=headers)
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "Must have push access to view repository collaborators."


def test_collaborators_change_through_the_api_and_the_state_file_keeps_it(tmp_path):
    path = tmp_path / "state.json"
    sandbox = create_app({"SEED": 42, "SCALE": 25, "STATE_FILE": str(path)}).test_client()
    headers = token(sandbox)
    removed = sandbox.delete(f"/github/api/repos/{PRIVATE['full_name']}/collaborators/{COLLABORATOR}",
                             headers=headers)
    assert removed.status_code == 204
    assert COLLABORATOR not in logins(sandbox, headers, PRIVATE["full_name"])
    # someone new is invited (pending: no access yet); the control API grants at once
    newcomer = GH.people[-1]["login"]
    invited = sandbox.put(f"/github/api/repos/{PRIVATE['full_name']}/collaborators/{newcomer}", headers=headers,
                          json={"permission": "pull"})
    assert invited.status_code == 201 and invited.get_json()["invitee"]["login"] == newcomer
    assert newcomer not in logins(sandbox, headers, PRIVATE["full_name"])
    granted = sandbox.post("/_sandbox/github/collaborators", json={"repo": "tributary-labs/vault",
                                                                  "login": GH.OWNER_LOGIN, "permission": "push"})
    assert granted.status_code == 200
    # not an admin of the organization's repository: no changes there
    assert sandbox.delete("/github/api/repos/tributary-labs/platform/collaborators/"
                          f"{GH.people[10]['login']}", headers=headers).status_code == 403

    restarted = create_app({"SEED": 42, "SCALE": 25, "STATE_FILE": str(path)}).test_client()
    headers = token(restarted)
    assert COLLABORATOR not in logins(restarted, headers, PRIVATE["full_name"])
    assert logins(restarted, headers, "tributary-labs/vault")[GH.OWNER_LOGIN] == "write"
    # the invitation was kept too: a new one gets the next id
    again = restarted.put(f"/github/api/repos/{PRIVATE['full_name']}/collaborators/{GH.people[-2]['login']}",
                          headers=headers, json={"permission": "pull"})
    assert again.get_json()["id"] == invited.get_json()["id"] + 1
