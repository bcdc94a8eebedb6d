"""The header's search box: hits by kind, each with the page it opens."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from controltower.operations.selectors.search import MIN_LENGTH, PER_KIND, search


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:100].replace("\x00", "")
    groups = search(user=request.user, query=query)
    return render(
        request,
        "controltower/search.html",
        {
            "query": query.strip(),
            "groups": groups,
            "too_short": 0 < len(query.strip()) < MIN_LENGTH,
            "min_length": MIN_LENGTH,
            "per_kind": PER_KIND,
        },
    )
