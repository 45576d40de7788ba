"""Semester ids, titles and boundaries; ranges typed on the command line."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liaison.core.semesters import Calendar, RangeError, parse_semester_id, resolve_range

D = datetime.date


def test_ids_and_titles():
    autumn = parse_semester_id("2024-2025-1")
    spring = parse_semester_id("2024-2025-2")
    assert (autumn.id, autumn.title) == ("2024-2025-1", "2024-2025学年第一学期")
    assert (spring.id, spring.title) == ("2024-2025-2", "2024-2025学年第二学期")
    assert autumn.next() == spring and spring.next().id == "2025-2026-1" and autumn.previous().id == "2023-2024-2"


def test_default_rule_autumn_from_august_spring_from_february():
    calendar = Calendar()
    autumn, spring = parse_semester_id("2024-2025-1"), parse_semester_id("2024-2025-2")
    assert (calendar.start(autumn), calendar.end(autumn)) == (D(2024, 8, 1), D(2025, 1, 31))
    assert (calendar.start(spring), calendar.end(spring)) == (D(2025, 2, 1), D(2025, 7, 31))
    assert calendar.end(parse_semester_id("2023-2024-1")) == D(2024, 1, 31)


def test_an_override_moves_both_neighbouring_boundaries():
    calendar = Calendar({"2024-2025-2": D(2025, 2, 17)})
    autumn, spring = parse_semester_id("2024-2025-1"), parse_semester_id("2024-2025-2")
    assert calendar.end(autumn) == D(2025, 2, 16)
    assert calendar.start(spring) == D(2025, 2, 17)
    assert calendar.semester_of(D(2025, 2, 10)) == autumn
    assert calendar.semester_of(D(2025, 2, 17)) == spring


@pytest.mark.parametrize(
    "starts, day, expected",
    [
        ({}, D(2025, 1, 31), "2024-2025-1"),  # the autumn semester's last day is still autumn
        ({}, D(2025, 2, 1), "2024-2025-2"),
        ({}, D(2025, 7, 31), "2024-2025-2"),  # and the spring's last day still spring
        ({}, D(2025, 8, 1), "2025-2026-1"),
        ({"2024-2025-2": D(2025, 2, 17)}, D(2025, 2, 16), "2024-2025-1"),
        ({"2025-2026-1": D(2025, 8, 25)}, D(2025, 8, 24), "2024-2025-2"),
    ],
)
def test_a_semesters_last_day_belongs_to_it(starts, day, expected):
    assert Calendar(starts).semester_of(day).id == expected


@given(
    st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 1, 1)),
    st.integers(min_value=-60, max_value=60),
    st.integers(min_value=-60, max_value=60),
)
def test_every_day_is_in_exactly_the_semester_that_contains_it(day, shift_autumn, shift_spring):
    year = day.year
    starts = {
        f"{year}-{year + 1}-1": D(year, 8, 1) + datetime.timedelta(days=shift_autumn),
        f"{year - 1}-{year}-2": D(year, 2, 1) + datetime.timedelta(days=shift_spring),
    }
    calendar = Calendar(starts)
    semester = calendar.semester_of(day)
    assert calendar.start(semester) <= day <= calendar.end(semester)
    assert not (calendar.start(semester.next()) <= day)  # no overlap with the next one


@pytest.mark.parametrize("text", ["2024-2025-3", "2024-2026-1", "2024-1", "二〇二四", "2024-2025", ""])
def test_bad_semester_ids_are_clear_errors(text):
    with pytest.raises(RangeError) as info:
        parse_semester_id(text)
    assert "2024-2025-1" in str(info.value) or "相邻两年" in str(info.value)


def test_ranges():
    calendar = Calendar()
    semester = resolve_range(calendar, semester="2024-2025-1")
    assert (semester.start, semester.end, semester.title) == (D(2024, 8, 1), D(2025, 1, 31), "2024-2025学年第一学期")
    assert semester.description == "2024-2025学年第一学期（2024-08-01 至 2025-01-31）"
    explicit = resolve_range(calendar, start="2024-09-01", end="2024-09-30")
    assert D(2024, 9, 1) in explicit and D(2024, 9, 30) in explicit and D(2024, 10, 1) not in explicit
    assert resolve_range(calendar, start="2024-09-01").end is None
    assert resolve_range(calendar).start is None
    current = resolve_range(calendar, semester="current", today=D(2026, 11, 24))
    assert current.semester.id == "2026-2027-1"
    previous = resolve_range(calendar, semester="previous", today=D(2026, 11, 24))
    assert previous.semester.id == "2025-2026-2"


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"start": "2025-01-01", "end": "2024-01-01"}, "对调"),
        ({"start": "2024-02-30"}, "不是真实存在的日期"),
        ({"end": "2024/01/01"}, "格式不对"),
        ({"semester": "2024-2025-1", "start": "2024-09-01"}, "二选一"),
    ],
)
def test_bad_ranges_are_clear_errors(kwargs, word):
    with pytest.raises(RangeError) as info:
        resolve_range(Calendar(), **kwargs)
    assert word in str(info.value)


def test_an_override_far_from_the_default_is_refused():
    problems = Calendar.problems({"2024-2025-1": D(2025, 9, 1), "2024-2025-2": D(2025, 2, 20)})
    assert [key for key, _ in problems] == ["2024-2025-1"]
