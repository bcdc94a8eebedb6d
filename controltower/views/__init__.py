from controltower.views.home import healthz, home

__all__ = ["healthz", "home"]
