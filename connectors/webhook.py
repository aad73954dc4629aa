"""Custom webhook source: any system that can POST JSON pushes records to Tributary.

Connecting issues a URL and a signing secret. Each request carries
``Tributary-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``; the
inbound endpoint checks the signature and refuses timestamps outside the tolerance window
and deliveries it has already accepted.
"""
from .base import CatalogEntry, Connector, Stream


class WebhookConnector(Connector):
    catalog = CatalogEntry(
        type="webhook",
        display_name="Custom webhook",
        category="custom",
        auth_method="webhook",
        description="Push JSON records from any system with a signed HTTP POST.",
        docs_url="https://github.com/tributary/tributary#webhook-sources",
        streams=(Stream("events", "event", "Payloads pushed to the webhook URL"),),
    )
