"""Durations as the catalog writes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from paramedic.catalog.duration import (
    DURATION_MESSAGE,
    Duration,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("2s", 2),
        ("5m", 300),
        ("1h", 3600),
        ("7d", 7 * 86400),
        ("1w", 7 * 86400),
        ("1h30m", 5400),
        ("1.5s", 1.5),
        (" 2 s ", 2),
        ("0s", 0),
    ],
)
def test_parse_duration_reads_every_unit(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "s", "2x", "-1s", "2 seconds", "1h-30m", "PT5S"])
def test_parse_duration_refuses_other_text_with_the_catalog_message(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == "must be a duration like 2s (units: ms, s, m, h, d, w)"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(milliseconds=500), "500ms"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(0), "0s"),
        (timedelta(days=1, hours=2, minutes=3, seconds=4), "1d2h3m4s"),
        (timedelta(seconds=-60), "-1m"),
        (3600.0, "1h"),
        (None, "-"),
    ],
)
def test_format_duration_writes_the_catalog_form(
    value: timedelta | float | None, text: str
) -> None:
    assert format_duration(value) == text


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**7))
def test_whole_seconds_survive_a_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=999))
def test_milliseconds_survive_a_round_trip(millis: int) -> None:
    value = timedelta(milliseconds=millis)
    assert parse_duration(format_duration(value)) == value


class _Timing(BaseModel):
    every: Duration


def test_duration_field_accepts_text_and_timedelta_and_serializes_as_text() -> None:
    assert _Timing.model_validate({"every": "2s"}).every == timedelta(seconds=2)
    model = _Timing(every=timedelta(minutes=5))
    assert model.model_dump(mode="json") == {"every": "5m"}


@pytest.mark.parametrize("value", [5, 2.5, None, ["2s"]])
def test_duration_field_refuses_numbers_and_other_types(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        _Timing.model_validate({"every": value})
    assert caught.value.errors()[0]["ctx"]["error"].args[0] == DURATION_MESSAGE


@pytest.mark.parametrize("text", ["99999999999999999999w", "36501d", "1" + "0" * 400 + "s"])
def test_a_duration_past_100_years_is_too_large_not_an_overflow(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == "is too large: a duration is at most 100 years (36500d)"
    assert parse_duration("36500d") == timedelta(days=36500)
