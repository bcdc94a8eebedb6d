"""Saved views: a person's named bookmarks of a list page's filters, sort and search."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedView(models.Model):
    """One person's named query string for one list page (``exceptions:list``, say).

    The page is named by its URL name, so a saved view opens the page exactly as it
    was saved: the same filters, sort and search, from the query string alone.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    page = models.CharField(max_length=60, help_text="The list page's URL name.")
    name = models.CharField(max_length=80)
    query = models.TextField(blank=True, help_text="The query string, without the page number.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "page", "name"], name="saved_view_unique_name_per_user_page"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.page})"
