"""What can go wrong talking to a provider, as domain errors with stable codes."""
from core.errors import DomainError, NotFound, UpstreamError, ValidationError


class InvalidCredentials(ValidationError):
    code = "invalid_credentials"


class HandleNotFound(NotFound):
    code = "handle_not_found"


class ProviderError(UpstreamError):
    """The provider failed (5xx, timeout, connection refused, unreadable body).

    ``reason`` is how a sync run buckets it (the spec's ``error_reason``): ``transient`` here,
    worth trying again later. ``details`` keep what the provider said (``provider_status``,
    ``provider_message``, ``provider_errors``, ``documentation_url``, ``request_id``), redacted
    of anything that looks like a secret.
    """

    code = "provider_unavailable"
    reason = "transient"


class ProviderRefused(ProviderError):
    """The provider refused the request itself (400, 403 without a rate-limit signal, 422):
    asking again will not help; the connection's settings or permissions must change."""

    code = "provider_refused"
    reason = "config"


class ProviderNotFound(ProviderRefused):
    """404 / 410: what the request names is not (or no longer) at the provider."""

    code = "provider_not_found"


class ChannelNotFound(ProviderNotFound):
    """A channel (a repository, a Slack channel) named by the connection's settings or a sync
    request does not exist, or the credentials cannot see it."""

    code = "CHANNEL_NOT_FOUND"


class ProviderRateLimited(DomainError):
    status = 429
    code = "provider_rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, details={"retry_after": retry_after}, **kwargs)
        self.retry_after = retry_after


class ProviderAuthError(DomainError):
    """The provider refused the credentials we hold (revoked, expired): reconnect needed."""

    status = 502
    code = "provider_auth_failed"


class RateLimitBudgetExceeded(ProviderRateLimited):
    """Waiting for the provider's rate limit would spend more than the run may wait: the wait
    budget is used up, or the provider's quota only comes back at a reset far away (a spent
    daily quota). The sync engine checkpoints, ends the run as rate limited and resumes from
    the checkpoint on the next run. ``retry_after``: seconds until a request could be sent."""


class ReadersUnknown(ProviderRefused):
    """The provider would not say who may read a channel (a repository whose collaborators the
    connection's token may not list). A connection in the ``source`` access mode then hides the
    channel's records from everyone (fail closed) and its run says which channel and why; an
    engine that did not know this error would fail the unit instead, storing nothing either."""

    code = "READERS_UNKNOWN"
