from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The operations layer: exceptions as work, ownership, SLAs, approvals, audit.

    Its label stays ``controltower`` (its models, tables, permissions and migrations were
    the ``controltower`` app's before the layers had their own packages).
    """

    name = "controltower.operations"
    label = "controltower"
    verbose_name = "Control tower"

    def ready(self) -> None:
        # Connects the operations layer to the engine's hooks.
        from controltower.operations import receivers  # noqa: F401
