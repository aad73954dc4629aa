"""The catalog, built by importing every module in this package.

Each module defines exactly one ``Connector`` subclass with a ``catalog`` entry; adding a
provider is adding a module.
"""
import importlib
import pkgutil
from dataclasses import dataclass
from functools import cache

from core.errors import NotFound, ValidationError

from . import settings as settings_mod
from .base import CATEGORIES, Connector

_INFRASTRUCTURE = {"actions", "base", "errors", "http", "kit", "mapping", "ratelimit", "registry", "rest", "settings",
                   "testing"}


@cache
def connector_classes() -> dict[str, type[Connector]]:
    import connectors

    found: dict[str, type[Connector]] = {}
    for info in pkgutil.iter_modules(connectors.__path__):
        if info.name in _INFRASTRUCTURE or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"connectors.{info.name}")
        classes = [obj for obj in vars(module).values()
                   if isinstance(obj, type) and issubclass(obj, Connector) and obj is not Connector
                   and obj.__module__ == module.__name__]
        if len(classes) != 1:
            raise RuntimeError(f"connectors.{info.name} must define exactly one Connector subclass")
        cls = classes[0]
        if cls.catalog.type in found:
            raise RuntimeError(f"connector type {cls.catalog.type!r} is defined twice")
        found[cls.catalog.type] = cls
    return dict(sorted(found.items(), key=lambda item: item[1].catalog.display_name.lower()))


@dataclass(frozen=True)
class Connectability:
    connectable: bool
    reason_code: str | None = None
    reason: str | None = None


def availability(cls: type[Connector]) -> str:
    """``available`` only when a live puller is behind the entry; a connector with catalog
    metadata alone is ``coming_soon``, as the spec defines it ("no live puller behind it")."""
    return "available" if cls.implemented and cls.catalog.availability == "available" else "coming_soon"


def connectability(config, connector_type: str) -> Connectability:
    cls = get_class(connector_type)
    entry = cls.catalog
    if availability(cls) == "coming_soon":
        return Connectability(False, "coming_soon", f"Tributary does not sync {entry.display_name} yet")
    settings = settings_mod.resolve(config, cls)
    if entry.auth_method == "oauth_redirect" and not (settings.get("client_id") and settings.get("client_secret")):
        name = entry.type.upper()
        return Connectability(False, "oauth_app_not_configured",
                              f"OAuth app not configured: the operator sets TRIBUTARY_{name}_CLIENT_ID "
                              f"and TRIBUTARY_{name}_CLIENT_SECRET")
    missing = [s for s in entry.operator_settings if not settings.get(s)]
    if missing:
        names = " and ".join(f"TRIBUTARY_{entry.type.upper()}_{s.upper()}" for s in missing)
        return Connectability(False, "provider_credentials_not_configured",
                              f"Provider credentials not configured: the operator sets {names}")
    return Connectability(True)


def get_class(connector_type: str) -> type[Connector]:
    try:
        return connector_classes()[connector_type]
    except KeyError:
        raise NotFound(f"There is no connector type {connector_type!r} in the catalog.",
                       code="unknown_connector_type", details={"connector_type": connector_type}) from None


def get_connector(config, connector_type: str) -> Connector:
    cls = get_class(connector_type)
    return cls(settings_mod.resolve(config, cls))


# What a catalog entry's ``kind`` can be (the spec's connection kinds). Every connector in this
# catalog is first-party: Tributary's own code pulls it.
KINDS = ("first_party",)


def catalog(config, category: str | None = None, kind: str | None = None) -> list[dict]:
    """The catalog entries, optionally of one ``category`` and one ``kind``; an unknown value of
    either is refused with the allowed ones."""
    if category is not None and category not in CATEGORIES:
        raise ValidationError(f"Unknown category {category!r}.", code="invalid_category",
                              details={"allowed": list(CATEGORIES)})
    if kind is not None and kind not in KINDS:
        raise ValidationError(f"Unknown kind {kind!r}.", code="invalid_kind", details={"allowed": list(KINDS)})
    entries = []
    for connector_type, cls in connector_classes().items():
        if category and cls.catalog.category != category:
            continue
        entries.append(catalog_entry_dict(cls, connectability(config, connector_type)))
    return entries


def catalog_entry_dict(cls: type[Connector], able: Connectability) -> dict:
    entry = cls.catalog
    return {
        "type": entry.type,
        "kind": KINDS[0],
        "display_name": entry.display_name,
        "category": entry.category,
        "description": entry.description,
        "auth_method": entry.auth_method,
        "ownership": entry.ownership,
        "default_scope": entry.default_scope,
        "direction": entry.direction,
        "availability": availability(cls),
        "connectable": able.connectable,
        "not_connectable_reason": (
            {"code": able.reason_code, "message": able.reason} if not able.connectable else None),
        "streams": [{"name": s.name, "document_type": s.document_type, "description": s.description,
                     "channel_kind": s.channel_kind} for s in entry.streams],
        "rate_limits": {"requests_per_minute": entry.rate_limits.requests_per_minute,
                        "requests_per_hour": entry.rate_limits.requests_per_hour},
        "docs_url": entry.docs_url,
        # What an agent may execute on a connection of it (connectors.actions).
        "actions": [action.describe() for action in cls.actions],
    }
