from django.apps import AppConfig


class TestSupportConfig(AppConfig):
    """Loaded by the test settings only (also in worker processes tests start)."""

    name = "tests.support"
    label = "testsupport"

    def ready(self) -> None:
        from . import activities  # noqa: F401 - registers test-only activities
