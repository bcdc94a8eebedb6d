from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages and the API of every layer, their template tags and the admin."""

    name = "controltower.web"
    label = "web"
    verbose_name = "Pages and API"

    def ready(self) -> None:
        # The schema's corrections register themselves when imported.
        from controltower.web.api import schema  # noqa: F401
