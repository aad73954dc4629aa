"""Figma's files read from the sandbox over HTTP, without the engine: a pass resumed from a mid-pass
checkpoint, an incremental pass that reads only the file that changed, and a team Figma cannot
list (team 1200000000000000001 at SEED 42, SCALE 25: 5 files)."""
import pytest
import requests

from connectors.base import SyncContext
from connectors.errors import ProviderRefused
from connectors.figma import FigmaConnector
from connectors.settings import ConnectorSettings

from .reading import minted
from .reading import read as read_stream
from .reading import sandbox  # noqa: F401  (the fixture)

TEAM = "1200000000000000001"


def figma(sandbox):
    token = minted(sandbox, "figma", "file_content:read")
    connector = FigmaConnector(ConnectorSettings("figma", FigmaConnector.sandbox_settings(sandbox)))
    connector.page_size = 2
    return connector, lambda: SyncContext(connection_id="c", connector_type="figma", credentials={}, settings={},
                                          access_token=lambda: token)


def read(connector, ctx, state=None, mode="full", pages=None):
    return read_stream(connector, ctx, "files", state, mode, pages, channel=TEAM, key="key")


def test_a_pass_resumes_from_its_checkpoint_and_an_incremental_reads_only_what_moved(sandbox):
    connector, new_ctx = figma(sandbox)
    everything, pages = read(connector, new_ctx())
    assert len(pages) == 3 and len(everything) == 5 and all(r["_file"] for p in pages for r in p.records)
    first, [page] = read(connector, new_ctx(), pages=1)
    rest, resumed = read(connector, new_ctx(), page.state)
    assert first + rest == everything and resumed[-1].state == pages[-1].state
    quiet, _ = read(connector, new_ctx(), pages[-1].state, "incremental")
    assert quiet == []
    requests.patch(f"{sandbox}/_sandbox/collections/figma/files/2", json={"name": "Renamed"}, timeout=5)
    moved, _ = read(connector, new_ctx(), pages[-1].state, "incremental")
    assert moved == ["Fk000002AcmeDesign"]


def test_figma_lists_no_teams_so_the_connection_names_them(sandbox):
    connector, new_ctx = figma(sandbox)
    with pytest.raises(ProviderRefused, match="name the teams to sync in the connection's channels"):
        connector.channels(new_ctx(), connector.spec("files"))
    assert connector.channel(new_ctx(), connector.spec("files"), TEAM).name == "Acme Design"


def test_a_file_the_team_no_longer_lists_is_gone_here_whether_or_not_figma_still_has_it(sandbox):
    """Confirming an unseen file asks Figma for its meta: a 404 (deleted) and an answer (the file
    moved to another team's project, which this team's listing, whole and unpaged, no longer
    shows) both leave it out of this team; the answer, which names no key, breaks nothing."""
    connector, new_ctx = figma(sandbox)
    assert connector.fetch_records(new_ctx(), "files", TEAM, ["Fk000002AcmeDesign"]) == []
    assert connector.fetch_records(new_ctx(), "files", TEAM, ["Fk999999NoSuchFile"]) == []
