"""The stopper (observe/stopper.py) trips once (the first reason wins) and a pipe whose reader
left is seen."""

from __future__ import annotations

import os

from resonate_rpc_cli.observe.stopper import Stopper, stream_closed


def test_the_first_reason_wins_and_hooks_run_once_tripped() -> None:
    stopper, calls = Stopper(), []
    stopper.on_trip(lambda: calls.append("early"))
    assert stopper.trip("interrupted by SIGTERM", 143)
    assert not stopper.trip("stdout was closed", 2)
    assert (stopper.reason, stopper.status, stopper.tripped) == ("interrupted by SIGTERM", 143,
                                                                 True)
    stopper.on_trip(lambda: calls.append("late"))  # registered after: runs at once
    assert calls == ["early", "late"]


def test_a_pipe_whose_reader_left_is_closed() -> None:
    read, write = os.pipe()
    try:
        assert not stream_closed(write)
        os.close(read)
        assert stream_closed(write)
    finally:
        os.close(write)
