"""Operator settings of a connector type for this deployment.

Resolution order, later wins: the catalog's defaults < the provider sandbox's settings when
``SANDBOX_URL`` is set (the demo switch) < ``CONNECTORS[type]`` in instance config <
``<TYPE>_<FIELD>`` settings (``TRIBUTARY_GITHUB_CLIENT_ID`` in the environment).
"""
from dataclasses import dataclass, field

FIELDS = ("client_id", "client_secret", "base_url", "api_url", "authorize_url", "token_url",
          "revoke_url", "bearer_token", "scopes", "page_size", "refresh_url")


@dataclass(frozen=True)
class ConnectorSettings:
    type: str
    values: dict = field(default_factory=dict)
    timeout: float = 15.0

    def get(self, name: str, default=None):
        value = self.values.get(name)
        return default if value in (None, "") else value

    @property
    def base_url(self) -> str | None:
        return _strip(self.get("base_url"))

    @property
    def api_url(self) -> str | None:
        return _strip(self.get("api_url"))

    def url(self, path_or_url: str | None, *, base: str | None = None) -> str | None:
        """An endpoint as an absolute URL: absolute ones stay, paths join ``base`` (or ``base_url``)."""
        if not path_or_url:
            return None
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return (base or self.base_url or "") + path_or_url


def _strip(url):
    return url.rstrip("/") if url else url


def resolve(config, connector_cls) -> ConnectorSettings:
    entry = connector_cls.catalog
    values = {"base_url": entry.base_url, "api_url": entry.api_url}
    sandbox = config.get("SANDBOX_URL")
    if sandbox and connector_cls.implemented:
        values.update(connector_cls.sandbox_settings(sandbox.rstrip("/")))
    values.update({k: v for k, v in (config.get("CONNECTORS") or {}).get(entry.type, {}).items() if v is not None})
    prefix = entry.type.upper() + "_"
    for name in FIELDS:
        value = config.get(prefix + name.upper())
        if value not in (None, ""):
            values[name] = value
    return ConnectorSettings(type=entry.type, values=values,
                             timeout=float(config.get("PROVIDER_TIMEOUT_SECONDS") or 15))
