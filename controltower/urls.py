"""The tower's URLs: the pages, the API with its schema and docs, the admin, and the
simulator (served only when it is enabled)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

# A database outage anywhere in a request is a 503 (controltower.web.outage), not an HTML 500.
handler500 = "controltower.web.outage.server_error"

urlpatterns = [
    path("", include("controltower.web.pages.urls")),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("controltower.web.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("simulator/", include("simulator.urls")),
]

# Under /api/ Django's own 404 and 400 answer in the API's error shape; elsewhere as pages.
handler404 = "controltower.web.api.errors.not_found"
handler400 = "controltower.web.api.errors.bad_request"
