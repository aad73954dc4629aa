"""Console fixtures: a signed-in admin (or member) on the Flask test client."""
import re

import pytest

from core.extensions import db
from tests.factories import add_member


def sign_in(client, user_id, workspace_id):
    with client.session_transaction() as session:
        session["user_id"] = user_id
        session["workspace_id"] = workspace_id


@pytest.fixture
def admin(client, workspace):
    """The test client signed in as the workspace's admin; returns (workspace_id, user_id)."""
    ws, user = workspace
    sign_in(client, user.id, ws.id)
    return ws.id, user.id


@pytest.fixture
def member_client(app, workspace):
    """A second client signed in as a plain member of the same workspace."""
    ws, _admin = workspace
    with app.app_context():
        member = add_member(db.session.merge(ws), email="mia@example.com")
        member_id = member.id
    client = app.test_client()
    sign_in(client, member_id, ws.id)
    return client


def text_of(response) -> str:
    return response.get_data(as_text=True)


def connection_id_from(location: str) -> str:
    match = re.search(r"/connections/(conn_[A-Za-z0-9_-]+)", location)
    assert match, location
    return match.group(1)
