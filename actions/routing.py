"""From a free-text intent to an action and its parameters.

Two routers, and the answer always says which one decided (``Routed.router``):

* ``model``: when the operator configures one (``ACTIONS_MODEL_BASE_URL`` and ``ACTIONS_MODEL``,
  with ``ACTIONS_MODEL_API_KEY`` if the endpoint needs one), any OpenAI-compatible
  chat-completions endpoint. It gets the connection's allowed actions as tools (their JSON
  schemas) and the caller's context; the tool it calls is the action, its arguments the
  parameters. No tool call: the model could not route.
* ``rules``: otherwise, the deterministic router: each action's phrasings (regular expressions
  written beside the action, ``connectors.actions.Phrasing``), first match wins; the caller's
  context fills parameters the sentence did not name (``{"channel": "general"}``), never
  overrides them.

Either way, an intent that maps to no action is a 422 ``could_not_route`` listing the actions
and their parameters, so a caller can send the structured form instead.
"""
from __future__ import annotations

import json

import requests
from flask import current_app

from core.errors import DomainError, ValidationError

from .service import Routed

MAX_INTENT = 2000


def route(actions: tuple, intent, context, *, connector: str = "tool") -> Routed:
    if not isinstance(intent, str) or not intent.strip():
        raise ValidationError("intent is a sentence saying what to do.", code="invalid_field",
                              details={"field": "intent"})
    if len(intent) > MAX_INTENT:
        raise ValidationError(f"intent is at most {MAX_INTENT} characters.", code="invalid_field",
                              details={"field": "intent"})
    if context is not None and not isinstance(context, dict):
        raise ValidationError("context is an object.", code="invalid_field", details={"field": "context"})
    config = current_app.config
    if config.get("ACTIONS_MODEL_BASE_URL") and config.get("ACTIONS_MODEL"):
        return by_model(actions, intent.strip(), context or {}, config, connector)
    return by_rules(actions, intent, context or {})


def _normalized(intent: str) -> str:
    return " ".join(intent.split()).rstrip(".!").strip()


def by_rules(actions: tuple, intent: str, context: dict) -> Routed:
    said = _normalized(intent)
    for action in actions:
        for phrasing in action.phrasings:
            found = phrasing.match(said)
            if found is not None:
                names = (action.parameters.get("properties") or {}).keys()
                filled = {k: v for k, v in context.items() if k in names}
                return Routed(action.name, {**filled, **found}, "rules", intent)
    raise could_not_route(actions, "rules", "No action's phrasing matches this intent.")


def could_not_route(actions: tuple, router: str, why: str) -> DomainError:
    return ValidationError(
        f"Could not route this intent to an action ({why}) Send {{\"action\", \"parameters\"}} instead, or say it "
        "the way one of the examples does.", code="could_not_route",
        details={"router": router, "actions": [
            {"name": a.name, "description": a.description,
             "parameters": {k: v.get("description", "") for k, v in (a.parameters.get("properties") or {}).items()},
             "required": list(a.parameters.get("required") or []), "examples": [p.example for p in a.phrasings]}
            for a in actions]})


def tools(actions: tuple) -> list[dict]:
    """The actions as chat-completions tools (function calling)."""
    return [{"type": "function", "function": {"name": a.name, "description": a.description,
                                              "parameters": a.parameters}} for a in actions]


SYSTEM = ("You route a person's request to exactly one tool call on a connected {connector} account. Call the tool "
          "that does what they ask, with its parameters taken from the request and the context. If no tool fits, "
          "answer in words without calling a tool.")


def by_model(actions: tuple, intent: str, context: dict, config, connector: str = "tool") -> Routed:
    """One chat-completions request; the first tool call is the route."""
    if not actions:
        raise could_not_route(actions, "model", "this connection allows no action.")
    headers = {"Content-Type": "application/json"}
    if config.get("ACTIONS_MODEL_API_KEY"):
        headers["Authorization"] = f"Bearer {config['ACTIONS_MODEL_API_KEY']}"
    body = {"model": config["ACTIONS_MODEL"], "temperature": 0, "tool_choice": "auto", "tools": tools(actions),
            "messages": [{"role": "system", "content": SYSTEM.format(connector=connector)},
                         {"role": "user", "content": intent + ("\n\nContext: " + json.dumps(context) if context else "")}]}
    url = str(config["ACTIONS_MODEL_BASE_URL"]).rstrip("/") + "/chat/completions"
    try:
        response = requests.post(url, json=body, headers=headers,
                                 timeout=float(config.get("ACTIONS_MODEL_TIMEOUT_SECONDS") or 30))
    except requests.RequestException as exc:
        raise DomainError(f"The action router's model could not be reached ({type(exc).__name__}).",
                          code="router_unavailable", status=502) from None
    if response.status_code != 200:
        raise DomainError(f"The action router's model answered {response.status_code}.", code="router_unavailable",
                          status=502, details={"model_status": response.status_code,
                                               "model_message": _model_message(response)})
    try:
        message = response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise DomainError("The action router's model answered something that is not a chat completion.",
                          code="router_unavailable", status=502) from None
    calls = message.get("tool_calls") or []
    if not calls:
        raise could_not_route(actions, "model", f"the model called no tool: {str(message.get('content') or '')[:300]}")
    call = calls[0].get("function") or {}
    names = {a.name for a in actions}
    if call.get("name") not in names:
        raise could_not_route(actions, "model", f"the model called {call.get('name')!r}, which is not an action here.")
    try:
        arguments = json.loads(call.get("arguments") or "{}")
    except ValueError:
        raise could_not_route(actions, "model", "the model's arguments are not JSON.") from None
    if not isinstance(arguments, dict):
        raise could_not_route(actions, "model", "the model's arguments are not an object.")
    return Routed(call["name"], arguments, "model", intent)


def _model_message(response) -> str:
    try:
        error = response.json().get("error")
        return str(error.get("message") if isinstance(error, dict) else error)[:300]
    except (ValueError, AttributeError):
        return response.text[:300]
