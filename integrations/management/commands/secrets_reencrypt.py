"""Encrypts every stored secret again with the first of CT_ENCRYPTION_KEYS (key rotation)."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.crypto import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Encrypts every stored secret again with the first key of CT_ENCRYPTION_KEYS; run it "
        "after putting a new key first, before removing the old ones."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        done = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.local_fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            names = [f.attname for f in fields]
            with transaction.atomic():
                for row in model._default_manager.select_for_update().only("pk", *names):
                    # Read decrypted with any key, written encrypted with the first.
                    model._default_manager.filter(pk=row.pk).update(
                        **{name: getattr(row, name) for name in names}
                    )
                    done += 1
        self.stdout.write(f"Encrypted {done} records' secrets again with the first key.")
