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

# Audit entries older than this many days are removed by the hourly housekeeping (the hash chain
# keeps its anchor, so what remains still verifies); 0 keeps everything:
# AUDIT_RETENTION_DAYS = 365
