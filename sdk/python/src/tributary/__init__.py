"""The Python SDK of Tributary's API: ``TributaryClient`` (async) and ``SyncTributaryClient``."""
__version__ = "0.1.0"

from ._models import (  # noqa: E402
    ActionList,
    ActionRun,
    AuditLogEntry,
    AuditLogPage,
    CatalogEntry,
    ChainVerification,
    Connection,
    ConnectionList,
    Connector,
    ConnectorCreated,
    ConnectorSyncAccepted,
    Document,
    DocumentSummary,
    DryRun,
    FullVerificationStatus,
    QueryResponse,
    QueryResult,
    Soc2Report,
    SyncJobStatus,
    Subscription,
    SyncRun,
    UsageReport,
    UserList,
    VectorStore,
)
from .client import SyncTributaryClient, TributaryClient, create_client, create_sync_client  # noqa: E402
from .errors import (  # noqa: E402
    APIConnectionError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TributaryError,
    ValidationError,
)

__all__ = [
    "APIConnectionError", "ActionList", "ActionRun", "AuditLogEntry", "AuditLogPage", "AuthenticationError",
    "CatalogEntry", "ChainVerification", "ConflictError", "Connection", "ConnectionList", "Connector",
    "ConnectorCreated", "ConnectorSyncAccepted", "Document", "DocumentSummary", "DryRun", "FullVerificationStatus",
    "NotFoundError",
    "PermissionDeniedError", "QueryResponse", "QueryResult", "RateLimitError", "ServerError", "Soc2Report",
    "Subscription", "SyncJobStatus", "SyncRun", "SyncTributaryClient", "TributaryClient", "TributaryError",
    "UsageReport", "UserList", "ValidationError", "VectorStore", "create_client", "create_sync_client",
    "__version__",
]
