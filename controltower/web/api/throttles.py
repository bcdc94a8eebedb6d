"""API rate limits: calls per minute per user (token or session) and per anonymous address,
and failed token authentications per address.

Rates are read from the settings when a request is checked (``CT_API_USER_RATE``,
``CT_API_ANON_RATE``, ``CT_API_TOKEN_FAILURE_RATE``), counted in the default cache (Redis
when there is Redis, shared by every web process). Over a rate the API answers 429 with
``Retry-After`` in its one error shape. A cache that does not answer lets calls through: the
limits protect the tower, an outage of their store must not take the API down with it.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _SettingsRate:
    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting) or None

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except redis.RedisError:
            logger.warning("API rate limit not checked: the cache did not answer.")
            return True


class ApiUserThrottle(_SettingsRate, UserRateThrottle):
    """Calls of one signed-in user or token, whichever way they authenticate."""

    setting = "CT_API_USER_RATE"


class ApiAnonThrottle(_SettingsRate, AnonRateThrottle):
    """Calls without credentials (the schema, the docs), per address."""

    setting = "CT_API_ANON_RATE"


class TokenFailureThrottle(_SettingsRate, SimpleRateThrottle):
    """Failed token authentications per address: only failures count, so a client with a good
    token is never slowed by this, and guessing tokens stops after a few tries a minute."""

    scope = "token_failure"
    setting = "CT_API_TOKEN_FAILURE_RATE"

    def get_cache_key(self, request: Request, view: Any = None) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def wait_before_next_try(self, request: Request) -> float | None:
        """Seconds until this address may try a token again; None when it may now."""
        if self.rate is None:
            return None
        try:
            self._load(request)
        except redis.RedisError:
            return None
        if len(self.history) < self.num_requests:
            return None
        return self.wait() or 1.0

    def failure_record(self, request: Request) -> None:
        if self.rate is None:
            return
        try:
            self._load(request)
            self.throttle_success()  # records this try in the history
        except redis.RedisError:
            logger.warning("A failed token authentication was not counted: no cache.")

    def _load(self, request: Request) -> None:
        self.key = self.get_cache_key(request)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
