from django.apps import AppConfig


class ControlTowerConfig(AppConfig):
    name = "controltower"
    verbose_name = "Control tower"
