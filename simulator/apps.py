from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    name = "simulator"
    label = "simulator"
    verbose_name = "System simulator"
