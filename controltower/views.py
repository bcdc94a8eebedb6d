from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from integrations import selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "controltower/home.html",
        {
            "state_counts": selectors.transaction_state_counts(),
            "flows": selectors.flow_list(),
            "systems": selectors.system_list(),
        },
    )


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "database": connection.vendor})
