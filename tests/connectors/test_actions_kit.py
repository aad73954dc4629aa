"""The typed actions the connectors declare (connectors/actions.py): each is complete, its
parameters that reach a URL path cannot leave their segment, validation names the parameter,
and the catalog lists them."""
import re

import pytest

from connectors import registry
from connectors.actions import mime_message
from core.errors import ValidationError

DECLARED = [(t, a) for t, cls in registry.connector_classes().items() for a in cls.actions]
REQUIRED = {"slack": {"post_message"}, "github": {"create_issue", "comment", "close_issue", "add_labels"},
            "jira": {"create_issue", "comment", "transition"}, "confluence": {"create_page"},
            "notion": {"create_page", "append_blocks"},
            "pipedrive": {"create_activity", "add_note", "move_deal_stage"},
            "gmail": {"create_draft", "send"}, "outlook": {"create_draft", "send"}, "microsoft_365": {"post_message"}}
# Parameters a build puts into a URL path: a pattern keeps them inside their segment(s).
IN_PATHS = {"repository", "number", "issue", "block_id", "deal_id", "channel"}


def test_the_issue_s_actions_are_declared():
    declared = {t: {a.name for a in cls.actions} for t, cls in registry.connector_classes().items() if cls.actions}
    assert declared == REQUIRED


@pytest.mark.parametrize("connector_type,action", DECLARED, ids=[f"{t}.{a.name}" for t, a in DECLARED])
def test_each_action_is_complete_and_its_path_parameters_are_pinned(connector_type, action):
    assert action.description and action.scope and action.phrasings
    properties = action.parameters["properties"]
    assert action.parameters["additionalProperties"] is False
    assert set(action.parameters["required"]) <= set(properties)
    for name in IN_PATHS & set(properties):
        spec = properties[name]
        assert spec.get("type") == "integer" or spec.get("pattern"), f"{name} reaches a path without a pattern"
        for probe in ("../etc", "owner/..", "a/b/../c", "..", "a b"):
            if spec.get("pattern"):
                assert not re.search(spec["pattern"], probe), (name, probe)
    if registry.get_class(connector_type).catalog.ownership == "personal":
        assert action.name in ("create_draft", "send")


def test_validation_names_the_parameter_and_converts_what_a_sentence_says():
    move = registry.get_class("pipedrive").action("move_deal_stage")
    assert move.validate({"deal_id": "42", "stage": "Won"}) == {"deal_id": 42, "stage": "Won"}
    for params, name in (({"stage": "Won"}, "deal_id"), ({"deal_id": 0, "stage": "Won"}, "deal_id"),
                         ({"deal_id": 1, "stage": "Won", "colour": "red"}, "colour")):
        with pytest.raises(ValidationError) as caught:
            move.validate(params)
        assert caught.value.code == "invalid_action_parameter" and caught.value.details["parameter"] == name
    labels = registry.get_class("github").action("add_labels")
    assert labels.validate({"repository": "a/b", "number": "3", "labels": "bug, help wanted"})["labels"] == [
        "bug", "help wanted"]
    with pytest.raises(ValidationError) as caught:
        labels.validate({"repository": "../../orgs", "number": 3, "labels": ["x"]})
    assert caught.value.details["parameter"] == "repository"


def test_a_mail_plan_is_the_mail_sent():
    """No Date or Message-ID in the raw message: the plan's body is byte for byte what is sent."""
    mail = {"to": ["ana@example.com"], "subject": "Hi", "body": "Hello"}
    assert mime_message(mail) == mime_message(dict(mail))


def test_the_catalog_lists_each_connector_s_actions(app):
    entries = {e["type"]: e for e in registry.catalog(app.config)}
    assert [a["name"] for a in entries["slack"]["actions"]] == ["post_message"]
    assert entries["slack"]["actions"][0]["provider_scope"] == "chat:write"
    assert entries["hubspot"]["actions"] == []
