"""Keep the sandbox's OAuth grants, API keys and writes across restarts (``--state-file``).

The demo (``make demo``) restarts the sandbox with the console; without this every GitHub or
Gmail connection made before the restart held tokens the new sandbox never issued, and its next
sync failed with 401. With a state file the sandbox saves, after each request that can change
them, what a real provider would remember: authorization codes, grants and tokens (each grant
with the account it was made at, a Zendesk subdomain, where alone its tokens answer); the Pipedrive
API keys and X bearer tokens it accepts; and the writes made through its APIs (issues, comments,
discussion comments and their deletions, deal and activity changes and deletions, published and
deleted X posts). The seeded data is not saved: the same seed and scale rebuild it.
Faults, clock offsets, enforced limits and counters are test tooling and start afresh.

The file is JSON, written atomically (a temporary file renamed over it) and private (0600).
A file made with another seed or scale, or unreadable, is set aside (``.rejected``) and the
sandbox starts fresh, saying so.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

VERSION = 1
UNCHANGING = frozenset({"GET", "HEAD", "OPTIONS"})


def snapshot(state) -> dict:
    with state.lock:
        return {"version": VERSION, "seed": state.seed, "scale": state.scale,
                "oauth": state.tokens.export(),
                "pipedrive_keys": sorted(state.pipedrive_keys), "x_bearer_tokens": sorted(state.x_bearer_tokens),
                "writes": {"github": state.data.github.export_writes(),
                           "pipedrive": state.data.pipedrive.export_writes(),
                           "x": state.data.x.export_writes()}}


def restore(state, saved: dict) -> None:
    with state.lock:
        state.tokens.load(saved.get("oauth", {}))
        state.pipedrive_keys = set(saved.get("pipedrive_keys", []))
        state.x_bearer_tokens = set(saved.get("x_bearer_tokens", []))
        writes = saved.get("writes", {})
        state.data.github.load_writes(writes.get("github", {}))
        state.data.pipedrive.load_writes(writes.get("pipedrive", {}))
        state.data.x.load_writes(writes.get("x", {}))


class StateFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def load_into(self, state) -> bool:
        """Restore ``state`` from the file if there is a usable one; True if it was restored."""
        if not self.path.exists():
            return False
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            if (saved.get("version"), saved.get("seed"), saved.get("scale")) != (VERSION, state.seed, state.scale):
                raise ValueError(f"it was saved with seed {saved.get('seed')} and scale {saved.get('scale')}, "
                                 f"this sandbox runs seed {state.seed} and scale {state.scale}")
            restore(state, saved)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            rejected = self.path.with_name(self.path.name + ".rejected")
            self.path.replace(rejected)
            log.warning("sandbox state file %s not used (%s): moved to %s; starting fresh", self.path, exc, rejected)
            state.reset()
            return False
        return True

    def save(self, state) -> None:
        data = json.dumps(snapshot(state), separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
        os.replace(temporary, self.path)


def install(app, path) -> StateFile:
    """Load ``path`` into the app's state, and save after every request that may change it."""
    from flask import request

    state_file = StateFile(path)
    state = app.extensions["sandbox"]
    restored = state_file.load_into(state)
    app.extensions["sandbox_state_file"] = state_file

    @app.after_request
    def _save(response):
        if request.method not in UNCHANGING:
            with state.lock:  # one save at a time, of a consistent state
                state_file.save(state)
        return response

    if restored:
        log.info("sandbox state restored from %s: %d grants, %d tokens", path, len(state.tokens.grants),
                 len(state.tokens.tokens))
    return state_file
