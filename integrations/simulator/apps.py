from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "integrations.simulator"
    label = "simulator"
    verbose_name = "System simulator"
