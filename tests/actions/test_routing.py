"""From intent to action: every documented phrasing routes to its action with parameters its
schema accepts (phrase by phrase), the sentences the issue names route exactly, an intent no
phrasing takes is a clear ``could_not_route``; and the model router, speaking the real
chat-completions protocol (tool calls) to a local server, decides when the operator configures one.
The answer always says which router decided."""
import json
import threading

import pytest
from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from actions.routing import by_rules
from connectors import registry
from core.errors import ValidationError
from tests.actions.helpers import connect_oauth

PHRASINGS = [(t, a.name, p.example) for t, c in registry.connector_classes().items() for a in c.actions
             for p in a.phrasings]


@pytest.mark.parametrize("connector_type,action,example", PHRASINGS, ids=[f"{t}.{a}: {e}" for t, a, e in PHRASINGS])
def test_every_documented_phrasing_routes_to_its_action(connector_type, action, example):
    actions = registry.connector_classes()[connector_type].actions
    routed = by_rules(actions, example, {})
    assert (routed.action, routed.router, routed.intent) == (action, "rules", example)
    chosen = next(a for a in actions if a.name == action)
    chosen.validate(routed.parameters)          # what the sentence says is a valid call


SENTENCES = [
    ("slack", "Send message to #general about deployment complete", "post_message",
     {"channel": "#general", "text": "deployment complete"}),
    ("slack", "post a message in #random: lunch is here.", "post_message", {"channel": "#random", "text": "lunch is here"}),
    ("github", "Create an issue in acme/api titled Login fails on Safari with body Since 2.4", "create_issue",
     {"repository": "acme/api", "title": "Login fails on Safari", "body": "Since 2.4"}),
    ("github", "create an issue in acme/api titled Flaky test", "create_issue",
     {"repository": "acme/api", "title": "Flaky test"}),
    ("github", "Close acme/api#7 as not planned", "close_issue",
     {"repository": "acme/api", "number": "7", "reason": "not_planned"}),
    ("github", "Add labels bug, security to acme/api#12", "add_labels",
     {"repository": "acme/api", "number": "12", "labels": "bug, security"}),
    ("jira", "Move TRIB-12 to In Progress", "transition", {"issue": "TRIB-12", "transition": "In Progress"}),
    ("jira", "Create a bug in OPS titled Pager fires twice", "create_issue",
     {"project": "OPS", "issue_type": "bug", "summary": "Pager fires twice"}),
    ("pipedrive", "move deal 42 to Won", "move_deal_stage", {"deal_id": "42", "stage": "Won"}),
    ("pipedrive", "Add a note to deal 42: customer asked for a discount", "add_note",
     {"deal_id": "42", "content": "customer asked for a discount"}),
    ("gmail", "Send an email to ana@example.com, bo@example.com subject Invoice saying Attached.", "send",
     {"to": "ana@example.com, bo@example.com", "subject": "Invoice", "body": "Attached"}),
    ("microsoft_365", "Post a message to team-1/19:abc@thread.tacv2 saying hello", "post_message",
     {"channel": "team-1/19:abc@thread.tacv2", "text": "hello"}),
]


@pytest.mark.parametrize("connector_type,sentence,action,parameters", SENTENCES, ids=[s[1] for s in SENTENCES])
def test_sentences_route_exactly(connector_type, sentence, action, parameters):
    actions = registry.connector_classes()[connector_type].actions
    routed = by_rules(actions, sentence, {})
    assert (routed.action, routed.parameters) == (action, parameters)
    validated = next(a for a in actions if a.name == action).validate(routed.parameters)
    if "to" in validated:
        assert validated["to"] == ["ana@example.com", "bo@example.com"]


def test_context_fills_what_the_intent_leaves_out_and_never_overrides_it():
    actions = registry.connector_classes()["slack"].actions
    routed = by_rules(actions, "Send message to #general about the deploy", {"channel": "random", "priority": "high",
                                                                            "thread_ts": "1700000000.000100"})
    assert routed.parameters == {"channel": "#general", "text": "the deploy", "thread_ts": "1700000000.000100"}


def test_an_intent_no_phrasing_takes_lists_the_actions_and_their_parameters():
    actions = registry.connector_classes()["github"].actions
    with pytest.raises(ValidationError) as caught:
        by_rules(actions, "please tidy up the backlog", {})
    error = caught.value
    assert error.code == "could_not_route" and error.details["router"] == "rules"
    listed = {a["name"]: a for a in error.details["actions"]}
    assert set(listed) == {"create_issue", "comment", "close_issue", "add_labels"}
    assert listed["create_issue"]["required"] == ["repository", "title"]
    assert "repository" in listed["create_issue"]["parameters"] and listed["create_issue"]["examples"]


# -- the model router, against a local server speaking chat completions ----------------------------

class ChatServer:
    """An OpenAI-compatible ``/v1/chat/completions``: answers what the test queues, keeps what it got."""

    def __init__(self):
        self.received, self.answers = [], []
        app = Flask("chat")

        @app.post("/v1/chat/completions")
        def completions():
            self.received.append({"body": request.get_json(), "authorization": request.headers.get("Authorization")})
            status, body = self.answers.pop(0)
            return jsonify(body), status
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def tool_call(self, name: str, arguments: dict):
        self.answers.append((200, {"id": "chatcmpl-1", "object": "chat.completion", "model": "local", "choices": [{
            "index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(arguments)}}]}}]}))

    def words(self, text: str):
        self.answers.append((200, {"id": "chatcmpl-2", "object": "chat.completion", "model": "local", "choices": [{
            "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]}))


@pytest.fixture
def chat(app):
    server = ChatServer()
    app.config.update(ACTIONS_MODEL_BASE_URL=server.url, ACTIONS_MODEL="local-router", ACTIONS_MODEL_API_KEY="sk-test")
    yield server
    server.server.shutdown()


def test_the_model_routes_when_configured(app, api, client, workspace, chat, sandbox_server):
    slack = connect_oauth(app, client, workspace, "slack")
    chat.tool_call("post_message", {"channel": "general", "text": "Deployment complete"})
    intent = {"intent": "let everyone know the deploy is done", "context": {"channel": "general"}, "dry_run": True}
    answer = api.post(f"/v1/connectors/{slack}/execute", json=intent)
    assert answer.status_code == 200, answer.json
    assert (answer.json["router"], answer.json["action"]) == ("model", "post_message")
    assert answer.json["plan"][0]["body"] == {"channel": "general", "text": "Deployment complete"}
    (sent,) = chat.received
    assert sent["authorization"] == "Bearer sk-test" and sent["body"]["model"] == "local-router"
    (tool,) = sent["body"]["tools"]
    assert tool["function"]["name"] == "post_message" and tool["function"]["parameters"]["required"] == ["channel",
                                                                                                         "text"]
    assert "let everyone know the deploy is done" in sent["body"]["messages"][-1]["content"]
    assert '"channel": "general"' in sent["body"]["messages"][-1]["content"]

    chat.words("I am not sure what you want.")
    refused = api.post(f"/v1/connectors/{slack}/execute", json={"intent": "do the thing"})
    assert refused.status_code == 422 and refused.json["error"]["details"]["router"] == "model"
    chat.tool_call("post_message", {"channel": "general"})
    invalid = api.post(f"/v1/connectors/{slack}/execute", json={"intent": "say something"})
    assert invalid.json["error"]["details"]["parameter"] == "text"
    chat.answers.append((503, {"error": {"message": "overloaded"}}))
    down = api.post(f"/v1/connectors/{slack}/execute", json={"intent": "say something"})
    assert down.status_code == 502 and down.json["error"]["details"]["model_message"] == "overloaded"
    # The model sees only the actions the connection's policy allows.
    api.put(f"/api/v1/connections/{slack}/actions/policy", json={"allowed_actions": []})
    nothing = api.post(f"/v1/connectors/{slack}/execute", json={"intent": "say something"})
    assert nothing.json["error"]["code"] == "could_not_route" and len(chat.received) == 4
