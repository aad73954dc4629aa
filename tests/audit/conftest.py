"""Fixtures shared by the audit chain's tests."""
import pytest

from audit import chain
from tests.audit.helpers import entry, member_actor
from tests.factories import make_workspace


@pytest.fixture
def acme(app, ctx):
    """A chain of six entries, a checkpoint at place 6, three more after it (places 7 to 9)."""
    workspace, admin = make_workspace("Acme")
    actor = member_actor(workspace.id, admin)
    for n in range(6):
        entry(actor, "connection.checked", target_id=f"conn_{n}", details={"ok": True})
    result, place = chain.checkpoint(workspace.id)
    assert (result.intact, result.mode, place) == (True, "incremental", 6)
    for n in range(6, 9):
        entry(actor, "connection.checked", target_id=f"conn_{n}", details={"ok": True})
    return workspace.id
