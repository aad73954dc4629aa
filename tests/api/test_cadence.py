"""The platform-admin connector cadence endpoints (/api/admin/connector-cadence)."""
import pytest

from accounts.models import User
from audit.models import AuditEvent
from core.extensions import db
from sync.models import ConnectorCadence
from tests.factories import Api, add_member, make_api_key, make_workspace

PRESETS = ["1m", "10m", "30m", "1h", "6h", "1d"]


class AdminApi(Api):
    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)


def key_of(app, client, workspace, *, platform_admin: bool, scopes=("admin",), email=None) -> AdminApi:
    """A key created by a workspace admin who is (or is not) the installation's platform admin."""
    with app.app_context():
        ws = db.session.merge(workspace[0])
        user = add_member(ws, email=email or f"{'ops' if platform_admin else 'boss'}-{len(scopes)}@example.com",
                          role="admin")
        user.is_platform_admin = platform_admin
        db.session.commit()
        return AdminApi(client, make_api_key(ws, user, scopes=list(scopes)))


@pytest.fixture
def operator(app, client, workspace):
    """An admin key of the platform admin (the user who set the installation up)."""
    return key_of(app, client, workspace, platform_admin=True)


def put(api, connector_type, body):
    return api.put(f"/api/admin/connector-cadence/{connector_type}", json=body)


def cadence_of(api, connector_type):
    listed = api.get("/api/admin/connector-cadence")
    assert listed.status_code == 200, listed.json
    return next(c for c in listed.json["cadences"] if c["connector_type"] == connector_type)


def error_of(response, status_code, code):
    assert response.status_code == status_code, response.json
    assert response.json["error"]["code"] == code, response.json
    return response.json["error"]


def test_the_list_has_every_connector_type_with_its_default(app, operator):
    cadences = operator.get("/api/admin/connector-cadence").json["cadences"]
    types = [c["connector_type"] for c in cadences]
    assert types == sorted(types) and {"github", "pipedrive", "twitter", "hubspot"} <= set(types)
    github = cadence_of(operator, "github")
    assert github == {"connector_type": "github", "default": app.config["SYNC_DEFAULT_CADENCE"], "override": None,
                      "effective": app.config["SYNC_DEFAULT_CADENCE"], "implemented": True}
    assert cadence_of(operator, "gong")["implemented"] is False


def test_the_platform_admin_sets_and_clears_a_cadence(app, operator):
    default = cadence_of(operator, "github")["default"]
    response = put(operator, "github", {"preset": "1h"})
    assert response.status_code == 200
    assert response.json == {"connector_type": "github", "default": default, "override": "1h", "effective": "1h",
                             "implemented": True}
    assert cadence_of(operator, "github") == response.json
    assert cadence_of(operator, "pipedrive")["override"] is None  # one type only

    changed = put(operator, "github", {"preset": "1d"}).json
    assert changed["override"] == changed["effective"] == "1d"
    cleared = put(operator, "github", {"preset": None})
    assert cleared.status_code == 200
    assert cleared.json == {"connector_type": "github", "default": default, "override": None,
                            "effective": default, "implemented": True}
    assert put(operator, "github", {"preset": None}).status_code == 200  # clearing twice is fine
    with app.app_context():
        assert db.session.get(ConnectorCadence, "github") is None
        events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "sync.cadence_updated")
                                    .order_by(AuditEvent.id)).all()
        assert [e.details["preset"] for e in events] == ["1h", "1d", None, None]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_is_accepted(operator, preset):
    assert put(operator, "pipedrive", {"preset": preset}).json["effective"] == preset


def test_cadence_is_installation_wide(app, client, operator):
    """Another workspace's platform-admin key sees the same override."""
    put(operator, "twitter", {"preset": "6h"})
    with app.app_context():
        globex, admin = make_workspace("Globex")
        admin.is_platform_admin = True
        db.session.commit()
        theirs = AdminApi(client, make_api_key(globex, admin))
    assert cadence_of(theirs, "twitter")["effective"] == "6h"


def test_a_workspace_admin_who_is_not_the_platform_admin_is_refused(app, client, api, workspace, operator):
    put(operator, "github", {"preset": "30m"})
    boss = key_of(app, client, workspace, platform_admin=False)
    for response in (boss.get("/api/admin/connector-cadence"), put(boss, "github", {"preset": "1m"}),
                     put(boss, "github", {"preset": None}), api.get("/api/admin/connector-cadence"),
                     put(boss, "no-such-type", {"preset": "1m"}), put(boss, "github", {"preset": "2h"})):
        error = error_of(response, 403, "platform_admin_required")
        assert error["details"] == {}
    # Not even a malformed body gets past the check.
    error_of(boss.put("/api/admin/connector-cadence/github", data="{", headers={"Content-Type": "application/json"}),
             403, "platform_admin_required")
    assert cadence_of(operator, "github")["override"] == "30m"


def test_the_platform_admins_key_still_needs_the_admin_scope(app, client, workspace):
    narrow = key_of(app, client, workspace, platform_admin=True, scopes=("sync", "connections:write"))
    for response in (narrow.get("/api/admin/connector-cadence"), put(narrow, "github", {"preset": "1h"})):
        error = error_of(response, 403, "insufficient_scope")
        assert error["details"]["required_scope"] == "admin"
    error_of(client.get("/api/admin/connector-cadence"), 401, "missing_api_key")
    error_of(client.put("/api/admin/connector-cadence/github", json={"preset": "1h"},
                        headers={"Authorization": "Bearer trb_nope"}), 401, "invalid_api_key")


def test_an_unknown_connector_type_is_404(operator):
    error = error_of(put(operator, "myspace", {"preset": "1h"}), 404, "unknown_connector_type")
    assert error["details"] == {"connector_type": "myspace"}


@pytest.mark.parametrize("body,code", [
    ({"preset": "2h"}, "invalid_preset"),
    ({"preset": "15m"}, "invalid_preset"),  # the built-in default, not a preset to choose
    ({"preset": 60}, "invalid_preset"),
    ({"preset": ""}, "invalid_preset"),
    ({}, "missing_field"),
    ({"cadence": "1h"}, "missing_field"),
    (["1h"], "invalid_body"),
])
def test_bad_presets_are_422(operator, body, code):
    error = error_of(put(operator, "github", body), 422, code)
    if code == "invalid_preset":
        assert error["details"] == {"allowed": PRESETS}
    if code == "missing_field":
        assert error["details"] == {"field": "preset"}
    assert cadence_of(operator, "github")["override"] is None


def test_malformed_json_is_422(operator):
    response = operator.put("/api/admin/connector-cadence/github", data="{",
                            headers={"Content-Type": "application/json"})
    error_of(response, 422, "invalid_json")


def test_users_are_not_platform_admins_by_default(app, workspace):
    with app.app_context():
        assert db.session.get(User, workspace[1].id).is_platform_admin is False
