"""Gunicorn settings: `gunicorn -c deploy/gunicorn.conf.py config.wsgi`.

Every value can be set from the environment (names below); GUNICORN_CMD_ARGS still
applies on top. Long work belongs in Celery, so the request timeout stays short.
"""

import os


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _cpu_count() -> int:
    """CPUs this process may use: the cgroup v2 quota (a container's --cpus) if any,
    else the CPU affinity set. os.cpu_count() would report every core of the host."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()
        if quota != "max":
            count = min(count, max(1, int(int(quota) / int(period) + 0.5)))
    except (OSError, ValueError):
        pass
    return count


# --- Socket -----------------------------------------------------------------------------
# GUNICORN_BIND wins; else PORT (set by some platforms); else 0.0.0.0:8000.
bind = os.environ.get("GUNICORN_BIND") or "0.0.0.0:" + os.environ.get("PORT", "8000")

# --- Workers ----------------------------------------------------------------------------
# Processes x threads is also the number of PostgreSQL connections one web node may hold
# (CONN_MAX_AGE keeps them open): size max_connections for it (deploy/README.md).
workers = _env_int("GUNICORN_WORKERS", _env_int("WEB_CONCURRENCY", 2 * _cpu_count() + 1))
threads = _env_int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# Heartbeat file in memory: a disk-backed /tmp can stall workers under Docker.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# Recycle workers now and then so slow leaks (PDF rendering, large querysets) can't grow
# without bound; the jitter keeps them from all restarting at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# --- Timeouts ---------------------------------------------------------------------------
timeout = _env_int("GUNICORN_TIMEOUT", 60)  # a request running longer is killed
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)  # on SIGTERM/HUP, finish in-flight
# Idle keep-alive towards the proxy. Behind a load balancer that pools connections, set it
# above the balancer's idle timeout, or it will now and then reuse a closed socket (502).
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)

# --- Proxy ------------------------------------------------------------------------------
# Addresses allowed to set X-Forwarded-Proto & co. for gunicorn's own wsgi.url_scheme.
# Django does not rely on that: settings.production sets SECURE_PROXY_SSL_HEADER and reads
# X-Forwarded-Proto from every request. So the TLS proxy must always overwrite that header,
# and gunicorn must be reachable only through the proxy. Inside Docker the proxy's address
# is not 127.0.0.1: set FORWARDED_ALLOW_IPS to its address or network (or "*" when only the
# proxy can reach this port).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# The app sees the TLS proxy's address as REMOTE_ADDR; the client's is the last entry of
# X-Forwarded-For that the proxy appended. Login lockouts and rate limits key on the
# client's address, so behind the documented single proxy TRUSTED_PROXY_COUNT is 1 (with
# 0, five wrong passwords from anyone would lock a user out for everyone). Set it to 2
# behind a CDN in front of the proxy, 0 only when clients connect to gunicorn directly.
# Set here, before the workers load Django, so the Procfile and compose both get it.
os.environ.setdefault("TRUSTED_PROXY_COUNT", "1")

# --- Logging ----------------------------------------------------------------------------
accesslog = "-"  # stdout
errorlog = "-"  # stderr
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Client address as the proxy saw it, then the usual combined format and the time in ms.
access_log_format = (
    '%({x-forwarded-for}i)s %(h)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
)
