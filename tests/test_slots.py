"""A worker slot's rates: the ten-minute rate over the minutes counted so far, and a clock that went back."""

from __future__ import annotations

import pytest

from piyasa_core.workers.slots import Slot

T0 = 1_795_590_300.0  # a Wednesday 10:05 in Istanbul


def test_the_ten_minute_rate_is_not_divided_by_ten_before_ten_minutes() -> None:
    slot = Slot(0)
    slot.view(T0, T0)  # rates start counting
    for i in range(6):  # six messages in the first two simulated minutes
        slot.record_sent(T0 + 20 * i)
    assert slot.view(T0, T0 + 120).rate_10m == pytest.approx(3.0)  # 6 in 2 minutes, not 0.6
    early = Slot(1)
    early.view(T0, T0)
    early.record_sent(T0 + 10)
    assert early.view(T0, T0 + 30).rate_10m == pytest.approx(1.0)  # under a minute: per one minute
    for i in range(14):
        slot.record_sent(T0 + 130 + 30 * i)
    assert slot.view(T0, T0 + 900).rate_10m == pytest.approx(sum(1 for t in slot.sends) / 10)  # ten minutes on


def test_a_clock_that_went_back_starts_counting_afresh() -> None:
    slot = Slot(0)
    slot.view(T0, T0)
    slot.record_sent(T0 + 60)
    later = T0 + 3600 * 5
    assert slot.view(T0, later - 7200).rate_10m == 0.0  # after a benchmark the clock is back: no old sends
    assert slot.view(T0, later - 7200).rate_1m == 0.0
