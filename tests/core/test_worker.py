import pytest
from django.core.cache import cache
from django.db import connection

from apps.core.tasks import BEAT_HEARTBEAT_KEY, beat_heartbeat, ping


@pytest.mark.worker
def test_a_real_worker_runs_tasks_from_the_real_broker_against_the_test_database(start_worker):
    # given a worker process
    start_worker()
    # when a task goes through the broker
    result = ping.delay().get(timeout=60)
    # then the worker ran it and talked to the same database as this test
    assert result == {"pong": True, "database": connection.settings_dict["NAME"]}


@pytest.mark.worker
def test_periodic_heartbeat_runs_in_the_worker_and_is_visible_here(start_worker):
    cache.delete(BEAT_HEARTBEAT_KEY)
    start_worker()
    written = beat_heartbeat.delay().get(timeout=60)
    assert cache.get(BEAT_HEARTBEAT_KEY) == written
