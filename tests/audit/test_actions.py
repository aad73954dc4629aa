"""The action vocabulary is what the code emits: every ``record`` call names a documented action,
every documented action has an emitter, and the README's table lists exactly the vocabulary."""
import ast
import functools
import re
from pathlib import Path

import pytest

from audit.actions import ACTIONS, matching
from audit.service import record
from core.actor import system_actor

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("access", "accounts", "actions", "audit", "blueprints", "connections", "connectors", "core", "knowledge",
            "sync")
# Calls whose action is computed, and every action each can produce (record() refuses any other
# at run time, so a test reaching the call catches a value missing here).
DYNAMIC = {
    "connections/service.py": {"connection.connected", "connection.reconnected"},
    "sync/engine.py": {"sync.completed", "sync.failed", "sync.cancelled", "sync.skipped_locked"},
    "core/cli.py": {"vault.keys_rotated", "vault.keys_retired"},
}
# Functions that pass their first argument on to record() as the action.
FORWARDERS = {"_audit_keys"}


def sources():
    files = [ROOT / "app.py"] + [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    for path in files:
        source = path.read_text()
        if "record(" in source or any(f in source for f in FORWARDERS):
            yield str(path.relative_to(ROOT)), ast.parse(source)


@functools.cache
def emitted() -> tuple[dict[str, set[str]], dict[str, int]]:
    """(file -> actions named by constant, file -> record calls with a computed action)."""
    constants, computed = {}, {}
    for name, tree in sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if func == "record" and len(node.args) >= 2:
                argument = node.args[1]
            elif func in FORWARDERS and node.args:
                argument = node.args[0]
            else:
                continue
            options = [argument.body, argument.orelse] if isinstance(argument, ast.IfExp) else [argument]
            for option in options:
                if isinstance(option, ast.Constant) and isinstance(option.value, str):
                    constants.setdefault(name, set()).add(option.value)
                else:
                    computed[name] = computed.get(name, 0) + 1
    return constants, computed


def test_every_action_the_code_names_is_documented():
    constants, _ = emitted()
    named = set().union(*constants.values())
    assert len(named) > 30  # the scan found the emitters
    assert named - set(ACTIONS) == set(), f"emitted but not in audit/actions.py: {sorted(named - set(ACTIONS))}"


def test_computed_actions_are_known_and_documented():
    _, computed = emitted()
    assert set(computed) == set(DYNAMIC), "a record() call computes its action: list what it can be in DYNAMIC"
    for actions in DYNAMIC.values():
        assert actions <= set(ACTIONS)


def test_every_documented_action_has_an_emitter():
    constants, _ = emitted()
    emitters = set().union(*constants.values(), *DYNAMIC.values())
    assert set(ACTIONS) - emitters == set(), f"documented but never emitted: {sorted(set(ACTIONS) - emitters)}"


def test_record_refuses_an_undocumented_action(app, ctx):
    with pytest.raises(ValueError, match="vocabulary"):
        record(system_actor("org_x"), "connection.teleported")


def test_prefix_filters():
    assert set(matching("connection.*")) == {a for a in ACTIONS if a.startswith("connection.")}
    assert matching("query.executed") == ["query.executed"]
    assert matching("connections.*") == [] and matching("nothing") == []


def test_the_readme_table_lists_the_vocabulary():
    text = (ROOT / "README.md").read_text()
    section = text.split("### Audit actions", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", section, re.M)
    assert listed == list(ACTIONS)
