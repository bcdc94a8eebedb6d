from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages and the API of every layer, their template tags and the admin."""

    name = "controltower.web"
    label = "web"
    verbose_name = "Pages and API"

    def ready(self) -> None:
        # The schema's corrections register themselves when imported.
        from django.contrib.auth.signals import user_logged_in

        from controltower.web.api import schema  # noqa: F401
        from controltower.web.timezones import time_zone_remember

        user_logged_in.connect(time_zone_remember, dispatch_uid="time_zone_remember")
