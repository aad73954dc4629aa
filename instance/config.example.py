# Copy to instance/config.py. Every name here can also be set as TRIBUTARY_<NAME> in the
# environment, which wins over this file.

# PostgreSQL instead of the embedded SQLite (required for several processes or machines):
# DATABASE_URL = "postgresql://tributary@db.internal:5432/tributary"

# The console's public URL, used for OAuth redirect URIs and webhook URLs behind a proxy:
# PUBLIC_URL = "https://tributary.example.com"
# PROXY_FIX = 1  # trust X-Forwarded-* from one proxy

# OAuth apps and provider URLs per connector type (or TRIBUTARY_GITHUB_CLIENT_ID, ...):
# CONNECTORS = {
#     "github": {"client_id": "Iv1.xxxx", "client_secret": "...",
#                # GitHub Enterprise Server:
#                "base_url": "https://github.example.com", "api_url": "https://github.example.com/api/v3"},
#     "gmail": {"client_id": "....apps.googleusercontent.com", "client_secret": "..."},
#     "twitter": {"bearer_token": "..."},
# }

# STALE_AFTER_HOURS = 48

# Limits per workspace (GET /api/v1/subscription; unset: unlimited). Passing one answers
# 409 limit_exceeded where the thing is made (connect, pipeline sync, query).
# LIMIT_CONNECTIONS = 25
# LIMIT_DOCUMENTS = 1_000_000
# LIMIT_QUERIES_PER_DAY = 10_000
# LIMIT_PIPELINE_OPERATIONS_PER_DAY = 500_000

# Invitations: e-mailed through this server when set (else the console shows the link once).
# SMTP_HOST = "smtp.example.com"
# SMTP_PORT = 587
# SMTP_USERNAME = "tributary"
# SMTP_PASSWORD = "..."
# SMTP_TLS = "starttls"  # or "ssl" (port 465) or "none"
# SMTP_FROM = "Tributary <tributary@example.com>"
# INVITATION_TTL_DAYS = 7
# Audit entries older than this many days are removed by the hourly housekeeping (the hash chain
# keeps its anchor, so what remains still verifies); 0 keeps everything:
# AUDIT_RETENTION_DAYS = 365
