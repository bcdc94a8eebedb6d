"""Saved views: a person keeps a list page's filters and sort under a name, for themselves only.

A saved view changes nothing but the person's own bookmarks, so it is not audited and
every role may keep them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from django.urls import NoReverseMatch, reverse

from canonical.errors import ApplicationError, NotFoundError
from controltower.operations.models import SavedView

# Parameters that say where one is in a list, not what the list is.
NOT_SAVED = ("page", "export", "csrfmiddlewaretoken")
NAME_MAX = 80


def saved_view_query(query: str) -> str:
    """The query string a view keeps: filters, search and sort, without the page number."""
    pairs = parse_qsl(query.lstrip("?"), keep_blank_values=False)
    return urlencode([(k, v) for k, v in pairs if k not in NOT_SAVED])


def saved_view_page_url(page: str) -> str:
    """The list page a view belongs to; refuses a name that is no page."""
    try:
        return reverse(page)
    except NoReverseMatch:
        raise ApplicationError(
            f"No list page is named {page!r}.", errors={"page": ["Unknown."]}
        ) from None


def saved_view_save(*, user: Any, page: str, name: str, query: str) -> SavedView:
    """Keeps ``query`` under ``name`` for ``user`` on ``page``; the same name is overwritten."""
    name = (name or "").strip()
    if not name:
        raise ApplicationError("Give the view a name.", errors={"name": ["Required."]})
    if len(name) > NAME_MAX:
        raise ApplicationError(
            f"A view's name has at most {NAME_MAX} characters.", errors={"name": ["Too long."]}
        )
    saved_view_page_url(page)
    with transaction.atomic():
        view, _ = SavedView.objects.update_or_create(
            user=user, page=page, name=name, defaults={"query": saved_view_query(query)}
        )
    return view


def saved_view_delete(*, user: Any, saved_view_id: int) -> SavedView:
    """Removes one of ``user``'s own saved views (another person's is not found)."""
    view = SavedView.objects.filter(pk=saved_view_id, user=user).first()
    if view is None:
        raise NotFoundError(f"You have no saved view {saved_view_id}.")
    view.delete()
    return view
