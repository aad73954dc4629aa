"""The Python SDK of Tributary's API: ``TributaryClient`` (async) and ``SyncTributaryClient``."""
__version__ = "0.1.0"

from ._models import (  # noqa: E402
    CatalogEntry,
    Connection,
    ConnectionList,
    Connector,
    ConnectorCreated,
    ConnectorSyncAccepted,
    Document,
    DocumentSummary,
    QueryResponse,
    QueryResult,
    SyncJobStatus,
    SyncRun,
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
    "APIConnectionError", "AuthenticationError", "CatalogEntry", "ConflictError", "Connection", "ConnectionList",
    "Connector", "ConnectorCreated", "ConnectorSyncAccepted", "Document", "DocumentSummary", "NotFoundError",
    "PermissionDeniedError", "QueryResponse", "QueryResult", "RateLimitError", "ServerError", "SyncJobStatus",
    "SyncRun", "SyncTributaryClient", "TributaryClient", "TributaryError", "ValidationError", "VectorStore",
    "__version__", "create_client", "create_sync_client",
]
