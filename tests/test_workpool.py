"""lepton.workpool: work in other processes, answered once per content, told where it queues."""

import os
import time

import pytest

from lepton.workpool import WorkPool


def double_and_count(value, log):
    """Doubles `value`, and writes a line per call to `log` (so a test sees the work done)."""
    with open(log, "a") as stream:
        stream.write(f"{os.getpid()}\n")
    return value * 2


def sleep_then_return(seconds, value):
    time.sleep(seconds)
    return value


def die_the_first_time(marker):
    """Kills its worker unless `marker` exists (it creates it first): a crash, then a success."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return "answered"


def refuse(value):
    raise ValueError(f"bad value {value}")


@pytest.fixture
def pool():
    work_pool = WorkPool(1)
    yield work_pool
    work_pool.shutdown()


def test_work_runs_in_another_process(pool):
    assert pool.submit(None, os.getpid).result(60) != os.getpid()


def test_a_second_identical_request_does_no_work(pool, tmp_path):
    log = tmp_path / "calls.log"
    first = pool.submit(("double", 21), double_and_count, 21, str(log))
    assert first.result(60) == 42
    second = pool.submit(("double", 21), double_and_count, 21, str(log))
    assert second.cached and second.result(0) == 42
    assert len(log.read_text().splitlines()) == 1
    assert (pool.statistics.computed, pool.statistics.cache_hits) == (1, 1)


def test_identical_requests_in_flight_share_one_computation(pool):
    first = pool.submit("slow", sleep_then_return, 0.5, "once")
    second = pool.submit("slow", sleep_then_return, 0.5, "once")
    assert second is first
    assert second.result(60) == "once"
    assert (pool.statistics.computed, pool.statistics.shared) == (1, 1)


def test_a_waiting_request_knows_how_many_are_ahead_of_it(pool):
    tickets = [pool.submit(f"slow {index}", sleep_then_return, 0.3, index) for index in range(3)]
    assert [pool.ahead_of(ticket) for ticket in tickets] == [0, 1, 2]
    assert pool.pending() == 3
    assert [ticket.result(60) for ticket in tickets] == [0, 1, 2]
    assert pool.ahead_of(tickets[2]) == 0 and pool.pending() == 0


def test_a_killed_worker_is_replaced_and_its_request_answered(pool, tmp_path):
    ticket = pool.submit(None, die_the_first_time, str(tmp_path / "died-once"))
    assert ticket.result(60) == "answered"
    assert pool.statistics.restarts == 1
    assert pool.submit(None, sleep_then_return, 0, "still working").result(60) == "still working"


def test_failures_reach_the_caller_and_are_not_remembered(pool):
    for _ in range(2):
        with pytest.raises(ValueError, match="bad value 3"):
            pool.submit(("refuse", 3), refuse, 3).result(60)
    assert pool.statistics.computed == 2 and pool.statistics.cache_hits == 0


def test_the_cache_keeps_the_most_recently_used_answers_within_its_budget(tmp_path):
    pool = WorkPool(1, cache_bytes=2500)
    try:
        log = str(tmp_path / "calls.log")
        for name in ("a", "b", "a", "c"):  # each answer 1,000 characters: room for two
            pool.submit(name, double_and_count, name * 500, log).result(60)
        assert pool.submit("a", double_and_count, "a" * 500, log).cached  # used recently
        assert not pool.submit("b", double_and_count, "b" * 500, log).cached  # dropped
    finally:
        pool.shutdown()


def test_an_answer_is_sized_by_the_arrays_and_text_it_holds():
    from dataclasses import dataclass

    import numpy as np

    from lepton.workpool import size_of

    @dataclass
    class Answer:
        name: str
        image: np.ndarray
        extra: tuple

    answer = Answer("seven", np.zeros((10, 10), np.float32), ({"maps": np.zeros(25, np.uint8)},))
    assert size_of(answer) == 5 + 400 + 4 + 25


def test_a_pool_needs_a_worker():
    with pytest.raises(ValueError, match="at least one worker"):
        WorkPool(-1)
