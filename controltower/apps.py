from django.apps import AppConfig


class ControlTowerConfig(AppConfig):
    name = "controltower"
    verbose_name = "Control tower"

    def ready(self) -> None:
        # Connects the operations layer to the engine's hooks.
        from controltower import receivers  # noqa: F401
