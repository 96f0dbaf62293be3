"""The messages tests' fixtures: an SMTP server on loopback, queues run in-process."""

import pytest

from tests.channels.conftest import email_config, queue, sends, sink, travel  # noqa: F401


@pytest.fixture
def sent_run(workspace, travel, email_config, sink, queue, sends):  # noqa: F811 - the fixtures above
    """A live email campaign run whose three messages were really sent."""
    from tests.channels.test_sending import live_run

    run = live_run(workspace)
    queue()
    sends()
    return run
