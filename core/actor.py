"""Who is acting: a signed-in member, an API key, or the system (scheduler, workers).

Blueprints build an ``Actor`` from the session or the bearer key; domain functions take it,
scope every read and write to ``actor.workspace_id`` and record it in the audit trail.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    type: str  # user | api_key | system | anonymous
    id: str | None
    label: str | None
    workspace_id: str | None
    user_id: str | None = None  # the signed-in member, for type == "user"
    role: str | None = None
    scopes: frozenset = field(default_factory=frozenset)
    client_address: str | None = None
    is_platform_admin: bool = False

    def has_scope(self, scope: str) -> bool:
        if self.type == "user":
            return True  # console members act through the UI's own checks (roles)
        return "admin" in self.scopes or scope in self.scopes

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" or (self.type == "api_key" and "admin" in self.scopes)


def system_actor(workspace_id: str | None = None) -> Actor:
    return Actor(type="system", id=None, label="system", workspace_id=workspace_id)
