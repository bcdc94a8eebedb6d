from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from canonical.errors import ApplicationError
from controltower.operations.services.tokens import api_token_create, api_tokens_revoke_all


class Command(BaseCommand):
    help = (
        "Makes an API token for a user and prints its key, for machines calling the API. "
        "The key is stored hashed: it is printed this once."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="made with manage.py createtoken")
        parser.add_argument("--days", type=int, default=None, help="Expires after (days).")
        parser.add_argument(
            "--rotate", action="store_true", help="Revoke the user's other tokens first."
        )

    def handle(self, *args, username: str, name: str, days: int | None, rotate: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if rotate:
            api_tokens_revoke_all(actor=None, user=user, reason="createtoken --rotate")
        try:
            _, key = api_token_create(actor=None, username=username, name=name, days=days)
        except ApplicationError as error:
            raise CommandError(f"{error.message} {error.errors}") from error
        self.stdout.write(key)
