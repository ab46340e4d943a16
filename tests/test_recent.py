"""Briefings of what arrived lately and narrowed briefings (rag/briefing/recent.py): the window by
ingestion time in hours, narrowing to outlets and to a topic (the relevance gate), and the
Markdown they render."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from helpers import run_ingest, write_article

from rag.briefing.recent import (
    ingested_at,
    keep_sources,
    keep_topic,
    narrowed_briefing,
    recent_briefing,
    recent_window,
)

BRIDGE = ("A container ship struck the Harlow Street bridge early on Tuesday. Fourteen people were injured, most "
          "of them workers on a night maintenance crew. Mayor Ellen Ruiz said the bridge would stay closed for "
          "at least three weeks while engineers inspect the central pier.")
WIND = ("The state grid operator said offshore wind farms supplied a record share of electricity on Monday. "
        "Turbines off the coast produced more power than the gas plants for the first time, and electricity "
        "prices fell as the windy weather lasted into the evening.")
BUDGET = ("The city council approved a school budget of 412 million dollars on Monday night. The plan raises "
          "starting salaries for teachers by six percent and funds forty new classroom aides. Council members "
          "voted seven to two in favour.")


def set_ingested(c, title: str, when: datetime) -> None:
    """Pretend the article titled `title` was first ingested at `when`."""
    c.registry.db.execute("UPDATE articles SET ingested_at=? WHERE title=?", (when.isoformat(timespec="seconds"),
                                                                              title))


@pytest.fixture
def desk(tmp_path, components):
    """Three articles: the bridge and the wind farms arrived just now, the budget three days ago."""
    folder = tmp_path / "articles"
    write_article(folder, "bridge.md", "Ship strikes Harlow Street bridge", BRIDGE, outlet="Coastal Times",
                  date="2026-03-03", url="https://coastal.example/bridge")
    write_article(folder, "wind.md", "Offshore wind sets a power record", WIND, outlet="Reuters",
                  date="2026-03-02", url="https://reuters.example/wind")
    write_article(folder, "budget.md", "Council approves school budget", BUDGET, outlet="Bay Herald",
                  url="https://bay.example/budget")
    run_ingest(components, [folder])
    set_ingested(components, "Council approves school budget", datetime.now(UTC) - timedelta(days=3))
    return components


def titles(window) -> set[str]:
    return {w.record.title for w in window}


def test_the_window_is_by_ingestion_time_in_hours(desk):
    assert titles(recent_window(desk, 24)) == {"Ship strikes Harlow Street bridge", "Offshore wind sets a power record"}
    assert "Council approves school budget" in titles(recent_window(desk, 168))
    # Placed by the published day when there is one, else by the day it arrived (and marked so).
    by_title = {w.record.title: w for w in recent_window(desk, 168)}
    assert (by_title["Ship strikes Harlow Street bridge"].day, by_title["Ship strikes Harlow Street bridge"].dated_by) \
        == (date(2026, 3, 3), "published")
    assert by_title["Council approves school budget"].dated_by == "ingested"
    # Nothing arrived before "now" when now is a week ago; nothing in the future counts either.
    assert recent_window(desk, 24, now=datetime.now(UTC) - timedelta(days=7)) == []
    for hours in (0, 169):
        with pytest.raises(ValueError):
            recent_window(desk, hours)


def test_a_stamp_without_offset_is_utc(desk):
    [record] = [r for r in desk.registry.articles() if r.title.startswith("Ship")]
    record.ingested_at = "2026-03-03T10:00:00"
    assert ingested_at(record) == datetime(2026, 3, 3, 10, tzinfo=UTC)


def test_narrowing_to_outlets_and_to_a_topic(desk):
    window = recent_window(desk, 168)
    assert titles(keep_sources(window, ["reuters", " BAY HERALD "])) == {"Offshore wind sets a power record",
                                                                        "Council approves school budget"}
    assert keep_sources(window, []) == window
    assert titles(keep_topic(desk, window, "wind power electricity")) == {"Offshore wind sets a power record"}
    assert titles(keep_topic(desk, window, "the Harlow Street bridge")) == {"Ship strikes Harlow Street bridge"}
    assert keep_topic(desk, window, "banana bread recipes") == []


@pytest.mark.model  # "wind power" finds its story by the model's similarity, not shared words
def test_recent_briefing_shows_what_arrived_under_its_own_heading(desk):
    b = recent_briefing(desk, 24)
    assert b.markdown.startswith("# News of the last 24 hours\n")
    assert "Harlow Street" in b.markdown and "Offshore wind" in b.markdown and "school budget" not in b.markdown
    assert {s.headline for s in b.stories} == {"Ship strikes Harlow Street bridge", "Offshore wind sets a power record"}
    narrowed = recent_briefing(desk, 24, topic="  wind   power ")
    assert narrowed.markdown.startswith("# News of the last 24 hours · about “wind power”\n")
    assert [s.headline for s in narrowed.stories] == ["Offshore wind sets a power record"]
    empty = recent_briefing(desk, 1, topic="banana bread")
    assert not empty.stories and "Nothing arrived in the last hour about “banana bread”: no article" in empty.markdown
    assert recent_briefing(desk, 2).markdown.startswith("# News of the last 2 hours\n")
    assert len(recent_briefing(desk, 168, max_stories=1).stories) == 1


def test_narrowed_day_briefing_is_not_saved(desk):
    from rag.briefing.pipeline import briefing_path

    b = narrowed_briefing(desk, date(2026, 3, 3), date(2026, 3, 3), sources=["Coastal Times"])
    assert b.markdown.startswith("# News briefing: 2026-03-03 · from Coastal Times\n")
    assert [s.headline for s in b.stories] == ["Ship strikes Harlow Street bridge"]
    assert not briefing_path(desk, date(2026, 3, 3), date(2026, 3, 3)).exists()
    none = narrowed_briefing(desk, date(2026, 3, 3), date(2026, 3, 3), topic="school budget", sources=["Reuters"])
    assert not none.stories and "No news for 2026-03-03 about “school budget” from Reuters" in none.markdown
