from . import core, enrichment, flow  # noqa: F401 - importing registers the activities
from .base import REGISTRY, Activity, Context, Outlet, SettingsError, register

__all__ = ["REGISTRY", "Activity", "Context", "Outlet", "SettingsError", "register"]
