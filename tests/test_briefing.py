"""Briefings: story clustering on articles written for the test (near-copies from different
outlets included), differences and opinion, saving and reuse, the seed acceptance, and the CLI."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from helpers import assert_cited, run_ingest, with_llm, write_article

from rag.briefing.pipeline import briefing_path, make_briefing

BRIDGE_1 = """A container ship struck the Harlow Street bridge early on Tuesday, forcing the city to close the \
crossing to all traffic while engineers inspect the damage.

The vessel, the Nordic Pearl, lost power about a mile upstream and drifted into the bridge's central pier at \
around 4:40 a.m., the port authority said. Fourteen people were injured, most of them workers on a night \
maintenance crew, and two remain in hospital.

Mayor Ellen Ruiz said the bridge would stay closed for at least three weeks. Commuters were told to use the \
ferry and the northern tunnel, and the transit agency added extra buses on both routes.

The port authority said the ship's crew had sent a distress call minutes before the collision, which gave \
police time to stop traffic on the span. Investigators from the maritime safety board arrived on Tuesday \
afternoon and will examine the ship's engines and its voyage data recorder."""

# A near-copy of BRIDGE_1 under another outlet's name: a few words changed, as syndicated copies are.
BRIDGE_1_COPY = BRIDGE_1.replace("early on Tuesday", "early Tuesday").replace(
    "the transit agency added extra buses", "the transit agency put on extra buses")

BRIDGE_2 = """The Harlow Street bridge will be shut for weeks after a cargo vessel lost engine power and \
slammed into one of its piers before dawn on Tuesday.

Nine people were hurt in the crash, according to the fire department, which said most of the injured were \
members of a road crew working on the deck overnight. The ship, registered as the Nordic Pearl, had been \
heading out to sea when its engines failed.

City officials said structural engineers were checking whether the pier had shifted. Mayor Ellen Ruiz told \
reporters that safety came first and that the crossing would reopen only when inspectors were satisfied. \
The maritime safety board has opened an investigation into the engine failure."""

OPINION = """Is anyone surprised that the Harlow Street bridge finally met a ship it could not survive? \
I am not. For a decade our city leaders have simply ignored every warning about the piers.

We were told the fenders were adequate. We were told the inspections were thorough. Frankly, that was \
nonsense, and everyone who crosses that bridge knew it.

The council should stop pretending this was bad luck. It must fund real protection for the piers now, \
before the next ship arrives, and it ought to explain to us why the money went to a stadium instead."""

BUDGET = """The city council approved a school budget of 412 million dollars on Monday night after a \
five-hour meeting, ending months of debate over teacher pay and class sizes.

The plan raises starting salaries for teachers by six percent and funds forty new classroom aides. Council \
members voted seven to two in favour. Parents who packed the chamber applauded when the vote was read out.

The budget also sets aside money to repair the heating systems in three older schools, a problem that \
closed two buildings for several days last winter. The superintendent said the district would begin \
hiring the new aides in the spring."""

FINAL = """The Riverside Rovers won the regional basketball championship on Sunday, beating the Hillcrest \
Hawks 88 to 80 in front of a sold-out arena.

Guard Maya Okafor scored 31 points, including five three-pointers in the final quarter, and was named the \
most valuable player of the tournament. It is the club's first title in eleven years.

Coach Daniel Price praised his team's defence and said the players would celebrate with fans at a parade \
downtown on Wednesday. The Rovers now advance to the national tournament next month."""

DAY = "2026-03-03"


@pytest.fixture
def news(tmp_path, components):
    """Written articles of one day: a bridge crash (two outlets, a near-copy from a third, an
    opinion piece), a school budget, a basketball final."""
    folder = tmp_path / "articles"
    write_article(folder, "bridge-coastal.md", "Ship strikes Harlow Street bridge, 14 injured", BRIDGE_1,
                  outlet="Coastal Times", date=DAY, url="https://coastal.example/bridge")
    write_article(folder, "bridge-copy.md", "Ship strikes Harlow Street bridge", BRIDGE_1_COPY,
                  outlet="Valley Wire", date=DAY, url="https://valley.example/bridge")
    write_article(folder, "bridge-bay.md", "Harlow Street bridge shut for weeks after ship crash", BRIDGE_2,
                  outlet="Bay Herald", date=DAY, url="https://bay.example/bridge")
    write_article(folder, "bridge-opinion.md", "The bridge disaster we all saw coming", OPINION,
                  outlet="Evening Column", date=DAY)
    write_article(folder, "budget.md", "Council approves 412 million dollar school budget", BUDGET,
                  outlet="Coastal Times", date=DAY)
    write_article(folder, "final.md", "Rovers win regional basketball title", FINAL,
                  outlet="Bay Herald", date=DAY)
    report = run_ingest(components, [folder])
    assert report.added == 5 and report.duplicates == 1, report
    ids = {r.path.rsplit("/", 1)[-1]: r.article_id for r in components.registry.articles()}
    return components, ids


def _story_of(b, article_id):
    return next(s for s in b.stories if article_id in s.article_ids)


def assert_story_cited(c, story):
    """Summary and differences together obey the citation contract."""
    assert_cited(c, story.summary + " ".join(story.differences), story.citations)


@pytest.mark.model  # needs the real model: which sentences mean the same
def test_stories_group_same_news_and_keep_others_apart(news):
    c, ids = news
    b = make_briefing(c, date.fromisoformat(DAY), date.fromisoformat(DAY))
    bridge = _story_of(b, ids["bridge-coastal.md"])
    # The rewrite by another outlet and the near-copy (linked at ingestion) join the same story.
    assert ids["bridge-bay.md"] in bridge.article_ids
    assert ids["bridge-copy.md"] in bridge.article_ids
    assert set(bridge.sources) >= {"Coastal Times", "Bay Herald", "Valley Wire"}
    assert ids["budget.md"] not in bridge.article_ids and ids["final.md"] not in bridge.article_ids
    assert _story_of(b, ids["budget.md"]) is not _story_of(b, ids["final.md"])
    # Every article lands in exactly one story; the widest coverage comes first.
    placed = [a for s in b.stories for a in s.article_ids]
    assert sorted(placed) == sorted(ids.values())
    assert b.stories[0] is bridge
    for story in b.stories:
        assert story.citations and story.headline
        assert_story_cited(c, story)


@pytest.mark.model  # needs the real model: which sentences mean the same
def test_differences_name_figures_and_opinion(news):
    c, ids = news
    b = make_briefing(c, date.fromisoformat(DAY), date.fromisoformat(DAY))
    bridge = _story_of(b, ids["bridge-coastal.md"])
    figures = [d for d in bridge.differences if d.startswith("Figures differ")]
    assert figures, bridge.differences
    assert any("Fourteen" in d or "14" in d for d in figures) and any("Nine" in d or "9" in d for d in figures)
    opinion_story = _story_of(b, ids["bridge-opinion.md"])
    flagged = [d for d in opinion_story.differences if d.startswith("Opinion rather than reporting")]
    assert flagged and "Evening Column" in flagged[0]
    # Reporting is never flagged as opinion.
    assert not any(d.startswith("Opinion") and "Coastal Times" in d for s in b.stories for d in s.differences)


def test_briefing_is_saved_reused_and_replaced(news, tmp_path):
    c, ids = news
    day = date.fromisoformat(DAY)
    first = make_briefing(c, day, day)
    path = briefing_path(c, day, day)
    assert path.exists() and path.with_suffix(".md").read_text() == first.markdown
    again = make_briefing(c, day, day)
    assert again.reused and again.generated_at == first.generated_at and again.stories == first.stories
    write_article(tmp_path / "more", "storm.md", "Storm knocks out power to thousands",
                  "A winter storm knocked out power to about 20,000 homes on Tuesday evening. Crews worked "
                  "through the night to restore the lines, and the utility said most customers would have "
                  "power back by Wednesday noon.", outlet="Coastal Times", date=DAY)
    run_ingest(c, [tmp_path / "more"])
    replaced = make_briefing(c, day, day)
    assert not replaced.reused
    assert len(json.loads(path.read_text())["stories"]) == len(first.stories) + 1


def test_empty_window_is_a_friendly_briefing(news):
    c, _ = news
    b = make_briefing(c, date(2030, 1, 1), date(2030, 1, 1))
    assert b.stories == [] and b.warnings == []
    assert "No news" in b.markdown


def test_undated_articles_fall_in_by_ingestion_day_and_are_marked(tmp_path, components):
    from zoneinfo import ZoneInfo

    from rag.text.dates import today

    write_article(tmp_path / "a", "undated.md", "Budget vote", BUDGET, outlet="Coastal Times")
    run_ingest(components, [tmp_path / "a"])
    day = today(ZoneInfo("UTC"))
    b = make_briefing(components, day, day)
    assert len(b.stories) == 1
    assert b.stories[0].articles[0].dated_by == "ingested"
    assert "date unknown, ingested" in b.markdown


def test_llm_briefing_with_a_fake_model_is_cited(news):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    c, ids = news
    model = FakeListChatModel(responses=["A ship hit the Harlow Street bridge, injuring workers [1][2]. "
                                         "The bridge is closed [7][99]."])
    b = make_briefing(with_llm(c, model), date.fromisoformat(DAY), date.fromisoformat(DAY), refresh=True)
    assert b.mode == "llm"
    for story in b.stories:
        assert_story_cited(c, story)
    assert any("removed citation [99]" in w for w in b.warnings)


@pytest.mark.model  # needs the real model: which sentences mean the same
def test_an_uncited_llm_story_is_not_an_llm_failure(news):
    """One story whose LLM summary cites nothing falls back alone: later stories still ask the
    LLM and the briefing is saved. An unreachable LLM is a failure: asked once, nothing saved."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    c, _ = news
    day = date.fromisoformat(DAY)
    cited = "The story's main fact, as the articles report it [1]."
    model = FakeListChatModel(responses=["A summary without any marker.", cited, cited])
    b = make_briefing(with_llm(c, model), day, day, refresh=True)
    assert [s.summary for s in b.stories][1:] == [cited, cited]
    assert b.mode == "extractive" and "some stories were summarized extractively" in " ".join(b.warnings)
    assert briefing_path(c, day, day).exists()

    class Down(FakeListChatModel):
        calls: int = 0

        def _call(self, *args, **kwargs):
            self.calls += 1
            raise ConnectionError("connection refused")

    briefing_path(c, day, day).unlink()
    down = Down(responses=[""])
    b = make_briefing(with_llm(c, down), day, day, refresh=True)
    assert b.mode == "extractive" and len(b.stories) == 3
    assert down.calls == 1 and not briefing_path(c, day, day).exists()


def test_seed_briefing_acceptance(tmp_path, components, seeds):
    """Issue #4: over the five seed articles every article is in a story, every story cites, the
    two reports of the same June 2024 news share a story, and the opinion piece is flagged."""
    run_ingest(components, [seeds])
    b = make_briefing(components, date(2000, 1, 1), date.today())
    by_path = {r.path.rsplit("/", 1)[-1][:3]: r.article_id for r in components.registry.articles()}
    placed = [a for s in b.stories for a in s.article_ids]
    assert sorted(placed) == sorted(by_path.values())
    for story in b.stories:
        assert story.citations
        assert_story_cited(components, story)
    assert by_path["001"] in _story_of(b, by_path["000"]).article_ids
    opinion = _story_of(b, by_path["004"])
    assert any(d.startswith("Opinion rather than reporting") and "Record Daily" in d for d in opinion.differences)


def test_cli_briefing_markdown_json_and_out(news, tmp_path):
    from click.testing import CliRunner

    from rag.cli.app import main
    from rag.components import Components

    c, _ = news
    runner = CliRunner()
    args = ["--data-dir", str(c.data_dir)]
    obj = {"components": lambda s: Components(s, embedder=c.embedder, tokenizer=c.tokenizer)}
    out = tmp_path / "brief.md"
    res = runner.invoke(main, ["briefing", "--date", DAY, "--out", str(out), *args],
                        obj=obj)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"# News briefing: {DAY}") and out.read_text() == res.stdout
    # A source line is never repeated: citations of one article whose quotes the summary already
    # shows share one line, and every marker of the summary has its line.
    for section in res.stdout.split("## ")[1:]:
        summary, _, sources = section.partition("**Sources:**")
        lines = [ln for ln in sources.splitlines() if ln.startswith("[")]
        bodies = [re.sub(r"^(\[\d+\])+ ", "", ln) for ln in lines]
        assert len(bodies) == len(set(bodies)), lines
        assert set(re.findall(r"\[\d+\]", summary)) <= set(re.findall(r"\[\d+\]", " ".join(lines)))
    res = runner.invoke(main, ["briefing", "--since", DAY, "--until", DAY, "--json", *args],
                        obj=obj)
    data = json.loads(res.stdout)
    assert set(data) == {"since", "until", "generated_at", "mode", "stories", "markdown", "warnings"}
    assert {"headline", "summary", "article_ids", "sources", "citations", "differences"} <= set(data["stories"][0])
    bad = runner.invoke(main, ["briefing", "--date", DAY, "--since", DAY, *args])
    assert bad.exit_code == 2 and "not both" in bad.output
    bad = runner.invoke(main, ["briefing", "--since", "2026-03-05", "--until", "2026-03-01", *args])
    assert bad.exit_code == 2 and "after" in bad.output
    bad = runner.invoke(main, ["briefing", "--date", "yesterday", *args])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
