"""Business-hours arithmetic: the clock that business-hours SLAs run on.

A calendar's working periods are defined on the wall clock of its time zone
(09:00 to 17:00 on its working days, none on holidays) and measured in real
elapsed time, so a day that changes to or from summer time counts the minutes
that really passed. Every result is an aware datetime in UTC. ``None`` as the
calendar means around the clock.

The three functions agree with one another: ``business_add(c, s, m)`` is the
earliest moment by which ``m`` working minutes have passed since ``s``, and
``business_subtract(c, e, m)`` the latest start that is already ``m`` working
minutes old at ``e``. So ``business_minutes_between(c, s, e) >= m`` exactly when
``e >= business_add(c, s, m)``, and exactly when ``s <= business_subtract(c, e, m)``;
the SLA sweep relies on the second form to query ``started <= cutoff`` on an index.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from controltower.operations.models import BusinessCalendar

UTC = dt.UTC
# A calendar with no working day this long (holidays on every working day) is a mistake.
SEARCH_LIMIT_DAYS = 3 * 366


@dataclass(frozen=True)
class WorkingHours:
    """A calendar read once: time zone, working weekdays, hours of the day and holidays."""

    time_zone: str = "UTC"
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    day_start: dt.time = dt.time(9)
    day_end: dt.time = dt.time(17)
    holidays: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.day_end <= self.day_start:
            raise ValueError("The working day must end after it starts.")
        if not self.working_days or not set(self.working_days) <= set(range(7)):
            raise ValueError("Working days are weekday numbers 0 (Monday) to 6 (Sunday).")

    @classmethod
    def of(cls, calendar: BusinessCalendar) -> WorkingHours:
        """Reads a saved calendar and its holidays (one query, or none when prefetched)."""
        return cls(
            time_zone=calendar.time_zone,
            working_days=frozenset(int(day) for day in calendar.working_days),
            day_start=_as_time(calendar.day_start),
            day_end=_as_time(calendar.day_end),
            holidays=frozenset(holiday.date for holiday in calendar.holidays.all()),
        )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def period(self, day: dt.date) -> tuple[dt.datetime, dt.datetime] | None:
        """The working period of a local date in UTC, or None on a day off."""
        if day.weekday() not in self.working_days or day in self.holidays:
            return None
        zone = self.zone
        start = dt.datetime.combine(day, self.day_start, tzinfo=zone).astimezone(UTC)
        end = dt.datetime.combine(day, self.day_end, tzinfo=zone).astimezone(UTC)
        # A start inside a spring-forward gap can land after an end just past it.
        return (start, end) if end > start else None

    def periods_from(self, moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working periods that end after ``moment``, in order."""
        for period in self._periods(moment, step=1):
            if period[1] > moment:
                yield period

    def periods_before(self, moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Working periods that start before ``moment``, latest first."""
        for period in self._periods(moment, step=-1):
            if period[0] < moment:
                yield period

    def _periods(
        self, moment: dt.datetime, *, step: int
    ) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        day = moment.astimezone(self.zone).date()
        days_off = 0
        while days_off < SEARCH_LIMIT_DAYS:
            period = self.period(day)
            days_off = 0 if period else days_off + 1
            if period:
                yield period
            day += dt.timedelta(days=step)
        raise ValueError(f"No working day within {SEARCH_LIMIT_DAYS} days of {moment}.")


def working_hours(calendar: BusinessCalendar | WorkingHours | None) -> WorkingHours | None:
    """The calendar as ``WorkingHours`` (read once), or None for around the clock."""
    if calendar is None or isinstance(calendar, WorkingHours):
        return calendar
    return WorkingHours.of(calendar)


def business_add(
    calendar: BusinessCalendar | WorkingHours | None, start: dt.datetime, minutes: float
) -> dt.datetime:
    """The due time: the earliest moment by which ``minutes`` working minutes have passed."""
    remaining = _duration(minutes)
    start = _utc(start)
    hours = working_hours(calendar)
    if hours is None or not remaining:
        return start + remaining
    for period_start, period_end in hours.periods_from(start):
        begin = max(period_start, start)
        available = period_end - begin
        if available >= remaining:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable: periods_from raises when it runs out")


def business_subtract(
    calendar: BusinessCalendar | WorkingHours | None, end: dt.datetime, minutes: float
) -> dt.datetime:
    """The latest start that is already ``minutes`` working minutes old at ``end``."""
    remaining = _duration(minutes)
    end = _utc(end)
    hours = working_hours(calendar)
    if hours is None or not remaining:
        return end - remaining
    for period_start, period_end in hours.periods_before(end):
        finish = min(period_end, end)
        available = finish - period_start
        if available >= remaining:
            return finish - remaining
        remaining -= available
    raise AssertionError("unreachable: periods_before raises when it runs out")


def business_duration_between(
    calendar: BusinessCalendar | WorkingHours | None, start: dt.datetime, end: dt.datetime
) -> dt.timedelta:
    """Working time from ``start`` to ``end``; zero when ``end`` is not after ``start``."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        return dt.timedelta(0)
    hours = working_hours(calendar)
    if hours is None:
        return end - start
    total = dt.timedelta(0)
    for period_start, period_end in hours.periods_from(start):
        if period_start >= end:
            break
        total += min(period_end, end) - max(period_start, start)
    return total


def business_minutes_between(
    calendar: BusinessCalendar | WorkingHours | None, start: dt.datetime, end: dt.datetime
) -> float:
    """Working minutes from ``start`` to ``end``; zero when ``end`` is not after ``start``."""
    return business_duration_between(calendar, start, end).total_seconds() / 60


def _duration(minutes: float | dt.timedelta) -> dt.timedelta:
    duration = minutes if isinstance(minutes, dt.timedelta) else dt.timedelta(minutes=minutes)
    if duration < dt.timedelta(0):
        raise ValueError("A business-hours duration cannot be negative.")
    return duration


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("Business-hours arithmetic needs an aware datetime.")
    return moment.astimezone(UTC)


def _as_time(value: dt.time | str) -> dt.time:
    # A calendar built in memory may still hold the field default as text ("09:00").
    return value if isinstance(value, dt.time) else dt.time.fromisoformat(value)
