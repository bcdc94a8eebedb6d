"""Secrets at rest: encrypted with Fernet keys from the environment, rotatable.

``CT_ENCRYPTION_KEYS`` holds one or more Fernet keys, comma-separated: the first encrypts,
every one decrypts (cryptography's ``MultiFernet``). To rotate: put a new key first, keep
the old ones after it, run ``manage.py secrets_reencrypt`` (every stored secret is
encrypted again with the new key), then drop the old keys. In demo mode, without the
variable, a key derived from ``SECRET_KEY`` is used; outside it the variable is required
as soon as a secret is stored.

``EncryptedTextField`` stores a secret encrypted; the tower never shows one back: pages,
the API and the audit log say whether it is set, not what it is.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


def _keys() -> list[str]:
    keys = [key.strip() for key in settings.CT_ENCRYPTION_KEYS if key.strip()]
    if keys:
        return keys
    if settings.DEMO:
        digest = hashlib.sha256(f"ct-demo-encryption:{settings.SECRET_KEY}".encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    raise ImproperlyConfigured(
        "CT_ENCRYPTION_KEYS is not set: the tower cannot store a secret without a key "
        "(generate one with: python -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())')."
    )


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(_keys()))


def secret_encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def secret_decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # stored before it was encrypted; encrypted at its next save
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with CT_ENCRYPTION_KEYS: the key that "
            "encrypted it was removed before the secrets were encrypted again."
        ) from None


def secret_reencrypt(stored: str) -> str:
    """``stored`` encrypted with the first key (what rotation does to each secret)."""
    if not stored:
        return stored
    if not stored.startswith(PREFIX):
        return secret_encrypt(stored)
    return PREFIX + fernet().rotate(stored[len(PREFIX) :].encode()).decode()


class EncryptedTextField(models.TextField):
    """A secret stored encrypted (``fernet:<token>``); read back decrypted in Python only."""

    description = "Text encrypted at rest"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return secret_decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return secret_encrypt(value)


def secret_mask(value: str | None) -> str:
    """How a secret is shown: whether it is set, never what it is."""
    return "set" if value else "not set"


def secret_url_mask(value: str | None) -> str:
    """A secret URL as it is shown: its scheme and host, and only its last four characters
    (``https://hooks.slack.com/…a1f2``), enough to tell two apart, never enough to use."""
    if not value:
        return ""
    parts = urlsplit(value)
    tail = value[-4:] if len(value) >= 16 else ""
    if parts.scheme and parts.hostname:
        return f"{parts.scheme}://{parts.hostname}/…{tail}"
    return f"set, ends …{tail}" if tail else "set"


# What the audit log says of a secret instead of its value.
SECRET_WORDS = frozenset({"set", "not set", "changed", ""})


def secret_field_names(model: type[models.Model]) -> list[str]:
    """The fields of a model that hold secrets."""
    return [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
