"""gunicorn settings for production: `gunicorn "app:create_app()"` picks this file up."""
import os

bind = os.environ.get("TRIBUTARY_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("TRIBUTARY_WORKERS", "2"))
threads = int(os.environ.get("TRIBUTARY_THREADS", "4"))
accesslog = "-"
# %(U)s is the path without its query string: OAuth callbacks carry the authorization code there.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'
forwarded_allow_ips = os.environ.get("TRIBUTARY_FORWARDED_ALLOW_IPS", "127.0.0.1")
