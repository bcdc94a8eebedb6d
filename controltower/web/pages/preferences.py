"""A person's own settings: the time zone their pages show times in."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from canonical.errors import ApplicationError
from controltower.operations.selectors.preferences import user_time_zone
from controltower.operations.services.preferences import user_time_zone_set
from controltower.web.forms.preferences import TimeZoneForm
from controltower.web.timezones import SESSION_KEY


@login_required
@require_http_methods(["GET", "POST"])
def time_zone_view(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(initial={"time_zone": user_time_zone(user=request.user)})
    status = 200
    if request.method == "POST":
        form = TimeZoneForm(request.POST)
        if form.is_valid():
            try:
                chosen = user_time_zone_set(
                    user=request.user, time_zone=form.cleaned_data["time_zone"]
                ).time_zone
            except ApplicationError as error:
                form.add_error("time_zone", error.message)
            else:
                request.session[SESSION_KEY] = chosen
                messages.success(
                    request,
                    f"Times are now shown in {chosen}."
                    if chosen
                    else "Times are now shown in your browser's zone.",
                )
                return redirect("account:time-zone")
        status = 400
    return render(request, "controltower/account/time_zone.html", {"form": form}, status=status)
