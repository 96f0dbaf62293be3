from . import channels, core, enrichment, flow  # noqa: F401 - importing registers the activities
from .base import REGISTRY, Activity, Context, Outlet, SettingsError

__all__ = ["REGISTRY", "Activity", "Context", "Outlet", "SettingsError"]
