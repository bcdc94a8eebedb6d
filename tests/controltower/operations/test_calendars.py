"""Business-hours arithmetic: examples across a weekend, a holiday and a clock change, and properties."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controltower.operations.models import BusinessCalendar, Holiday
from controltower.operations.services.calendars import (
    WorkingHours,
    business_add,
    business_duration_between,
    business_minutes_between,
    business_subtract,
)

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
UTC = dt.UTC


@pytest.fixture
def berlin_calendar(db) -> BusinessCalendar:
    """Monday to Friday, 09:00 to 17:00 in Berlin, with Easter Monday 2025 off."""
    calendar = BusinessCalendar.objects.create(name="Berlin office", time_zone="Europe/Berlin")
    Holiday.objects.create(calendar=calendar, date=dt.date(2025, 4, 21), name="Easter Monday")
    return calendar


def test_adding_business_hours_skips_the_weekend_and_a_holiday(berlin_calendar):
    friday_four_pm = dt.datetime(2025, 4, 18, 16, 0, tzinfo=BERLIN)

    due = business_add(berlin_calendar, friday_four_pm, 4 * 60)

    # One hour on Friday; Saturday, Sunday and Easter Monday off; three hours on Tuesday.
    assert due == dt.datetime(2025, 4, 22, 12, 0, tzinfo=BERLIN)
    assert due.tzinfo is UTC
    assert business_minutes_between(berlin_calendar, friday_four_pm, due) == 240
    assert business_subtract(berlin_calendar, due, 4 * 60) == friday_four_pm


def test_no_business_time_passes_over_a_weekend_and_a_holiday(berlin_calendar):
    friday_close = dt.datetime(2025, 4, 18, 17, 0, tzinfo=BERLIN)
    tuesday_open = dt.datetime(2025, 4, 22, 9, 0, tzinfo=BERLIN)

    assert business_minutes_between(berlin_calendar, friday_close, tuesday_open) == 0
    saturday_ten = dt.datetime(2025, 4, 19, 10, 0, tzinfo=BERLIN)
    assert business_minutes_between(berlin_calendar, saturday_ten, tuesday_open) == 0


def test_work_started_on_a_day_off_is_due_counting_from_the_next_opening(berlin_calendar):
    easter_monday_noon = dt.datetime(2025, 4, 21, 12, 0, tzinfo=BERLIN)

    assert business_add(berlin_calendar, easter_monday_noon, 30) == dt.datetime(
        2025, 4, 22, 9, 30, tzinfo=BERLIN
    )


def test_a_target_that_ends_at_closing_time_is_due_at_closing_time(berlin_calendar):
    tuesday_nine = dt.datetime(2025, 4, 22, 9, 0, tzinfo=BERLIN)

    assert business_add(berlin_calendar, tuesday_nine, 8 * 60) == dt.datetime(
        2025, 4, 22, 17, 0, tzinfo=BERLIN
    )


def test_subtracting_from_a_quiet_hour_counts_back_from_the_last_closing(berlin_calendar):
    tuesday_early = dt.datetime(2025, 4, 22, 7, 0, tzinfo=BERLIN)

    # Easter Monday is off and Good Friday is not in this calendar: back to Friday 15:00.
    assert business_subtract(berlin_calendar, tuesday_early, 120) == dt.datetime(
        2025, 4, 18, 15, 0, tzinfo=BERLIN
    )


def test_the_calendar_is_read_with_its_holidays(berlin_calendar):
    hours = WorkingHours.of(berlin_calendar)

    assert hours.time_zone == "Europe/Berlin"
    assert hours.working_days == frozenset({0, 1, 2, 3, 4})
    assert hours.day_start == dt.time(9) and hours.day_end == dt.time(17)
    assert hours.holidays == frozenset({dt.date(2025, 4, 21)})


def test_business_hours_count_real_minutes_across_a_clock_change():
    new_york = WorkingHours(time_zone="America/New_York")
    friday_four_pm = dt.datetime(2025, 3, 7, 16, 0, tzinfo=NEW_YORK)  # EST, UTC-5

    due = business_add(new_york, friday_four_pm, 240)

    # Clocks go forward on Sunday 9 March; the due time is still Monday noon on the wall.
    assert due == dt.datetime(2025, 3, 10, 12, 0, tzinfo=NEW_YORK)
    assert due.astimezone(UTC).hour == 16  # EDT, UTC-4


def test_a_working_day_that_spans_the_clock_change_is_an_hour_shorter():
    round_the_clock = WorkingHours(
        time_zone="Europe/Berlin",
        working_days=frozenset(range(7)),
        day_start=dt.time(0, 0),
        day_end=dt.time(23, 0),
    )
    day = dt.datetime(2025, 3, 30, 0, 0, tzinfo=BERLIN)

    assert business_minutes_between(round_the_clock, day, day + dt.timedelta(days=1)) == 22 * 60


def test_without_a_calendar_the_clock_runs_around_the_clock():
    start = dt.datetime(2025, 4, 19, 23, 0, tzinfo=UTC)  # a Saturday night

    assert business_add(None, start, 90) == start + dt.timedelta(minutes=90)
    assert business_subtract(None, start, 90) == start - dt.timedelta(minutes=90)
    assert business_minutes_between(None, start, start + dt.timedelta(hours=2)) == 120


def test_naive_datetimes_and_negative_durations_are_refused():
    hours = WorkingHours()

    with pytest.raises(ValueError, match="aware"):
        business_add(hours, dt.datetime(2025, 1, 1, 9), 10)
    with pytest.raises(ValueError, match="negative"):
        business_subtract(hours, dt.datetime(2025, 1, 1, 9, tzinfo=UTC), -1)


def test_a_calendar_with_no_working_day_left_says_so():
    all_off = WorkingHours(
        working_days=frozenset({0}),
        holidays=frozenset(dt.date(2025, 1, 6) + dt.timedelta(weeks=n) for n in range(200)),
    )

    with pytest.raises(ValueError, match="No working day"):
        business_add(all_off, dt.datetime(2025, 1, 1, tzinfo=UTC), 10)


# --- Properties ---------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kathmandu",  # UTC+05:45
    "Australia/Lord_Howe",  # a half-hour clock change
    "Pacific/Auckland",
]


@st.composite
def calendars(draw) -> WorkingHours:
    # Days of at least an hour keep a long target from walking through years of calendar.
    start = draw(st.times(min_value=dt.time(0), max_value=dt.time(22, 59)))
    start = start.replace(second=0, microsecond=0)
    end_minutes = draw(st.integers(start.hour * 60 + start.minute + 60, 23 * 60 + 59))
    return WorkingHours(
        time_zone=draw(st.sampled_from(ZONES)),
        working_days=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
        day_start=start,
        day_end=dt.time(end_minutes // 60, end_minutes % 60),
        holidays=frozenset(
            draw(st.sets(st.dates(dt.date(2024, 12, 1), dt.date(2026, 3, 1)), max_size=8))
        ),
    )


moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2025, 12, 31), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=3))
positive_durations = st.timedeltas(
    min_value=dt.timedelta(microseconds=1), max_value=dt.timedelta(days=3)
)
PROPERTY_SETTINGS = settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(calendars(), moments, durations)
def test_the_due_time_is_exactly_the_target_of_working_time_away(hours, start, target):
    due = business_add(hours, start, target)

    assert due >= start
    assert business_duration_between(hours, start, due) == target


@PROPERTY_SETTINGS
@given(calendars(), moments, durations)
def test_the_cutoff_is_exactly_the_target_of_working_time_before(hours, end, target):
    cutoff = business_subtract(hours, end, target)

    assert cutoff <= end
    assert business_duration_between(hours, cutoff, end) == target


@PROPERTY_SETTINGS
@given(calendars(), moments, durations)
def test_adding_then_subtracting_returns_no_earlier_than_the_start(hours, start, target):
    due = business_add(hours, start, target)

    # Equal when the start is in working time; a start in a quiet hour moves to the opening.
    assert business_subtract(hours, due, target) >= start
    assert business_add(hours, business_subtract(hours, due, target), target) == due


@PROPERTY_SETTINGS
@given(calendars(), moments, durations)
def test_subtracting_then_adding_returns_no_later_than_the_end(hours, end, target):
    cutoff = business_subtract(hours, end, target)

    assert business_add(hours, cutoff, target) <= end
    assert business_subtract(hours, business_add(hours, cutoff, target), target) == cutoff


@PROPERTY_SETTINGS
@given(calendars(), moments, moments, durations, durations)
def test_due_times_are_monotonic(hours, first, second, short, long):
    first, second = sorted([first, second])
    short, long = sorted([short, long])

    assert business_add(hours, first, short) <= business_add(hours, second, short)
    assert business_add(hours, first, short) <= business_add(hours, first, long)
    assert business_subtract(hours, first, short) <= business_subtract(hours, second, short)
    assert business_subtract(hours, first, long) <= business_subtract(hours, first, short)


@PROPERTY_SETTINGS
@given(calendars(), moments, moments, positive_durations)
def test_the_cutoff_query_and_the_due_time_agree(hours, start, now, target):
    # The sweep asks "started <= cutoff"; that must mean exactly "now is past the due time".
    due = business_add(hours, start, target)
    cutoff = business_subtract(hours, now, target)

    assert (start <= cutoff) == (now >= due)
    assert (now >= due) == (business_duration_between(hours, start, now) >= target)


@PROPERTY_SETTINGS
@given(calendars(), moments, moments, moments)
def test_working_time_adds_up_and_never_exceeds_the_time_elapsed(hours, a, b, c):
    a, b, c = sorted([a, b, c])

    total = business_duration_between(hours, a, c)
    assert total == business_duration_between(hours, a, b) + business_duration_between(hours, b, c)
    assert dt.timedelta(0) <= total <= c - a
    assert business_duration_between(hours, c, a) == dt.timedelta(0)
