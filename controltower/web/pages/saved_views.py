"""Saved views on any list page: "Save this view" and the menu of the person's views.

A list page adds ``saved_views_context(request, page="exceptions:list")`` to its
context and includes ``controltower/partials/_saved_views.html``; nothing else.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_POST

from canonical.errors import ApplicationError
from controltower.operations.models import SavedView
from controltower.operations.services.saved_views import (
    saved_view_delete,
    saved_view_page_url,
    saved_view_query,
    saved_view_save,
)


def saved_views_context(request: HttpRequest, *, page: str) -> dict[str, Any]:
    """What the saved-views partial needs: the person's views of ``page`` and the current query."""
    base = reverse(page)
    current = saved_view_query(request.GET.urlencode())
    views = [
        {
            "pk": view.pk,
            "name": view.name,
            "url": f"{base}?{view.query}" if view.query else base,
            "current": view.query == current,
        }
        for view in SavedView.objects.filter(user=request.user, page=page)
    ]
    return {"saved_views": {"page": page, "query": current, "views": views}}


@login_required
@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    page = request.POST.get("page", "")
    query = request.POST.get("query", "")
    try:
        view = saved_view_save(
            user=request.user, page=page, name=request.POST.get("name", ""), query=query
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        try:
            base = saved_view_page_url(page)
        except ApplicationError:
            return HttpResponse(escape(error.message), status=error.status_code)
        clean = saved_view_query(query)
        return redirect(f"{base}?{clean}" if clean else base)
    messages.success(request, f"Saved this view as “{view.name}”.")
    base = saved_view_page_url(view.page)
    return redirect(f"{base}?{view.query}" if view.query else base)


@login_required
@require_POST
def saved_view_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        view = saved_view_delete(user=request.user, saved_view_id=pk)
    except ApplicationError as error:
        return HttpResponse(escape(error.message), status=error.status_code)
    messages.success(request, f"Deleted the saved view “{view.name}”.")
    base = saved_view_page_url(view.page)
    back = saved_view_query(request.POST.get("query", ""))
    return redirect(f"{base}?{back}" if back else base)
