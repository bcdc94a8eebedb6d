"""Exit 0 when PostgreSQL and Redis answer at the given URLs, 1 otherwise.

Used by ``make test`` to decide whether to run the suite against the real services.
"""

from __future__ import annotations

import sys


def answers(database_url: str, redis_url: str) -> bool:
    try:
        import psycopg
        import redis

        with psycopg.connect(_maintenance_url(database_url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except Exception as exc:  # any failure means "not answering"
        print(f"services not answering: {exc}", file=sys.stderr)
        return False
    return True


def _maintenance_url(database_url: str) -> str:
    # The tests create their own database; the server only has to answer.
    base, _, _ = database_url.rpartition("/")
    return f"{base}/postgres"


if __name__ == "__main__":
    sys.exit(0 if answers(sys.argv[1], sys.argv[2]) else 1)
