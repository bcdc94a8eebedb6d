"""Reading a request body as JSON that the tower can store, for every adapter."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from integrations.adapters.base import EventRejected

MAX_DEPTH = 32


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load(body: bytes, *, exact: bool = True) -> Any:
    """The body as JSON, refused when a JSON column could not keep it.

    ``exact`` reads decimals as ``Decimal`` (vendor money and big numbers); the
    canonical dialect reads them as floats, its schemas carrying money as strings.
    """
    try:
        document = json.loads(
            body, parse_float=Decimal if exact else float, parse_constant=_refuse_constant
        )
    except UnicodeDecodeError:
        raise EventRejected(
            "The body is not UTF-8 encoded JSON.", errors={"(body)": ["Send UTF-8 JSON."]}
        ) from None
    except json.JSONDecodeError as exc:
        raise EventRejected(
            f"Malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}.",
            errors={"(body)": [f"{exc.msg} (line {exc.lineno}, column {exc.colno})"]},
        ) from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # NaN / Infinity, or an integer over Python's digit limit
        raise EventRejected(f"Malformed JSON: {exc}.", errors={"(body)": [str(exc)]}) from None
    _check_storable(document)
    return document


def _too_deep() -> EventRejected:
    return EventRejected(
        f"The JSON is nested deeper than {MAX_DEPTH} levels.",
        errors={"(body)": [f"At most {MAX_DEPTH} levels of nesting."]},
    )


def _check_storable(document: Any) -> None:
    """Refuses what a JSON column cannot keep: deep nesting, NUL and lone surrogates."""
    stack = [(document, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        ok = False
    else:
        ok = "\x00" not in text
    if not ok:
        raise EventRejected(
            "A string holds a NUL character or a lone UTF-16 surrogate.",
            errors={"(body)": ["Strings must not hold \\u0000 or unpaired surrogates."]},
        )
