"""Fault knobs: what they may be set to, and what they do to a simulated call.

The knobs (``SimulatedSystem`` fields) as JSON::

    {"latency_ms": 0, "error_rate": 0.0, "throttle": false, "retry_after_seconds": 1,
     "outage": false, "pay_after_seconds": 60,
     "rate_limit_per_minute": 0, "rate_limit_burst": 0,
     "auth": "none", "token_ttl_seconds": 3600,
     "reject": [{"record": "invoice", "field": "taxCode", "value": "XX",
                 "message": "Invalid tax code"}]}

Per call, in this order: wait ``latency_ms``; ``outage`` answers 503; ``throttle``
answers 429 with ``Retry-After: <retry_after_seconds>``; the rate limit
(``rate_limit_per_minute`` calls in any 60 seconds, ``rate_limit_burst`` in any one
second, 0 = none; ``admission.rate_limit_admit``) answers 429 with ``Retry-After`` the
seconds until a call leaves the window; ``error_rate`` is the share of calls answering 500.
Between the throttle and the rate limit, the credentials ``auth`` demands are checked
(``credentials.py``; 401 when missing or wrong); ``token_ttl_seconds`` is how long an
access token issued from then on lasts (an ERP's, or a session of the CRM's Salesforce API). A ``reject`` rule refuses a create or update of its ``record``
kind whose ``field`` (a dotted path such as ``subsidiary.id``) equals ``value`` (any
value when ``value`` is left out) with 400 and the rule's ``message``.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass
from typing import Any

from simulator.choices import AUTH_MODES, AuthMode, record_kinds

KNOB_DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,
    "error_rate": 0.0,
    "throttle": False,
    "retry_after_seconds": 1,
    "outage": False,
    "pay_after_seconds": 60,
    "rate_limit_per_minute": 0,
    "rate_limit_burst": 0,
    "auth": "none",
    "token_ttl_seconds": 3600,
    "reject": [],
}
# Like the real systems they stand for, the ERP (NetSuite: OAuth 2.0 client credentials,
# tokens that expire in minutes here) and the PSA (an API key) demand credentials unless
# told otherwise, and so do the HRIS (BambooHR: its API key as the HTTP Basic user) and
# Harvest (a personal access token and the account id); the CRM and the CLM send to the
# tower and take calls from nobody here.
SYSTEM_KNOB_DEFAULTS: dict[str, dict[str, Any]] = {
    "erp": {"auth": "oauth2", "token_ttl_seconds": 600},
    "erp2": {"auth": "oauth2", "token_ttl_seconds": 600},
    "psa": {"auth": "api_key"},
    "hris": {"auth": "basic_key"},
    "harvest": {"auth": "harvest"},
}


def knob_defaults(system: str) -> dict[str, Any]:
    """The knobs a system starts with (and ``_reset`` puts back)."""
    return {**copy.deepcopy(KNOB_DEFAULTS), **SYSTEM_KNOB_DEFAULTS.get(system, {})}


MAX_LATENCY_MS = 60_000
MAX_RETRY_AFTER_SECONDS = 3600
MAX_RATE_LIMIT = 1_000_000
MAX_TOKEN_TTL_SECONDS = 86_400
MAX_REJECT_RULES = 50
REJECT_RULE_KEYS = {"record", "field", "value", "message"}

# Seeded once per process: a run's error pattern is repeatable enough to reason about,
# and a rate of 0 or 1 is exact.
_rng = random.Random(20261102)


@dataclass(frozen=True)
class Fault:
    """A failure the knobs inject into a call instead of its answer."""

    status: int
    code: str
    message: str
    retry_after_seconds: int | None = None


class KnobsInvalid(Exception):
    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors))
        super().__init__(f"{first}: {errors[first][0]}")
        self.errors = errors


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(value: Any, *, maximum: int | None = None) -> str | None:
    if not _is_int(value) or value < 0:
        return "Must be a whole number, 0 or more."
    if maximum is not None and value > maximum:
        return f"Must be at most {maximum}."
    return None


def reject_rules_validate(*, system: str, rules: Any) -> dict[str, list[str]]:
    """Errors keyed by path (``reject[0].record``); empty when the rules are valid."""
    if not isinstance(rules, list):
        return {"reject": ["Must be a list of rules."]}
    if len(rules) > MAX_REJECT_RULES:
        return {"reject": [f"At most {MAX_REJECT_RULES} rules."]}
    errors: dict[str, list[str]] = {}
    kinds = record_kinds(system)
    for index, rule in enumerate(rules):
        path = f"reject[{index}]"
        if not isinstance(rule, dict):
            errors[path] = ['Must be an object {"record", "field", "value", "message"}.']
            continue
        for key in sorted(set(rule) - REJECT_RULE_KEYS):
            errors[f"{path}.{key}"] = ["Unknown key."]
        record = rule.get("record")
        if record not in kinds:
            errors[f"{path}.record"] = [f"Must be one of: {', '.join(kinds)}."]
        field = rule.get("field")
        if not isinstance(field, str) or not field.strip():
            errors[f"{path}.field"] = ["Must be a field name (a dotted path for nested ones)."]
        if "value" in rule and isinstance(rule["value"], dict | list):
            errors[f"{path}.value"] = ["Must be a string, number, boolean or null."]
        if "message" in rule and not isinstance(rule["message"], str):
            errors[f"{path}.message"] = ["Must be a string."]
    return errors


def auth_mode_check(*, system: str, mode: Any) -> str | None:
    """Why ``mode`` cannot be the system's ``auth`` knob, or None when it can."""
    modes = AUTH_MODES.get(system, (AuthMode.NONE,))
    if mode not in modes:
        return f"Must be one of: {', '.join(modes)} (what this system offers)."
    return None


def knobs_validate(*, system: str, payload: Any) -> dict[str, Any]:
    """The knobs ``payload`` sets (a partial update), or ``KnobsInvalid`` naming each bad field."""
    if not isinstance(payload, dict):
        raise KnobsInvalid({"(body)": ["Must be a JSON object of knobs."]})
    errors: dict[str, list[str]] = {}
    for key in sorted(set(payload) - set(KNOB_DEFAULTS)):
        errors[key] = [f"Unknown knob; known: {', '.join(KNOB_DEFAULTS)}."]
    checks = {
        "latency_ms": lambda v: _check_int(v, maximum=MAX_LATENCY_MS),
        "retry_after_seconds": lambda v: _check_int(v, maximum=MAX_RETRY_AFTER_SECONDS),
        "pay_after_seconds": lambda v: _check_int(v),
        "rate_limit_per_minute": lambda v: _check_int(v, maximum=MAX_RATE_LIMIT),
        "rate_limit_burst": lambda v: _check_int(v, maximum=MAX_RATE_LIMIT),
        "token_ttl_seconds": lambda v: _check_int(v, maximum=MAX_TOKEN_TTL_SECONDS)
        or (None if v >= 1 else "Must be 1 or more."),
        "auth": lambda v: auth_mode_check(system=system, mode=v),
        "throttle": lambda v: None if isinstance(v, bool) else "Must be true or false.",
        "outage": lambda v: None if isinstance(v, bool) else "Must be true or false.",
        "error_rate": lambda v: None
        if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
        else "Must be a number from 0 to 1.",
    }
    for key, check in checks.items():
        if key in payload and (message := check(payload[key])):
            errors[key] = [message]
    if "reject" in payload:
        errors.update(reject_rules_validate(system=system, rules=payload["reject"]))
    if errors:
        raise KnobsInvalid(errors)
    knobs = {key: value for key, value in payload.items() if key in KNOB_DEFAULTS}
    if "error_rate" in knobs:
        knobs["error_rate"] = float(knobs["error_rate"])
    return knobs


def front_door_fault(knobs: Any) -> Fault | None:
    """Waits the latency, then the failure the knobs put before credentials are looked at.

    ``knobs`` is a ``SimulatedSystem`` (anything with the knob attributes).
    """
    if knobs.latency_ms:
        time.sleep(knobs.latency_ms / 1000)
    if knobs.outage:
        return Fault(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable.")
    if knobs.throttle:
        return Fault(
            429,
            "CONCURRENCY_LIMIT_EXCEEDED",
            "Request limit exceeded; retry after the time the Retry-After header gives.",
            retry_after_seconds=knobs.retry_after_seconds,
        )
    return None


def error_fault(knobs: Any) -> Fault | None:
    """The failure ``error_rate`` injects into a call that got through everything else."""
    if knobs.error_rate and _rng.random() < knobs.error_rate:
        return Fault(500, "UNEXPECTED_ERROR", "An unexpected error occurred.")
    return None


_MISSING = object()


def field_value(data: Any, path: str) -> Any:
    """The value at a dotted path in ``data``, or ``_MISSING``."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def reject_rule_matching(*, rules: list[dict[str, Any]], kind: str, data: Any) -> dict | None:
    """The first rule refusing ``data`` as a ``kind`` record, if any."""
    for rule in rules or []:
        if not isinstance(rule, dict) or rule.get("record") != kind:
            continue
        actual = field_value(data, str(rule.get("field", "")))
        if actual is _MISSING:
            continue
        if "value" not in rule or actual == rule["value"] or str(actual) == str(rule["value"]):
            return rule
    return None
