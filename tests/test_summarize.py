"""Summaries: extractive (of an article, of a topic), the LLM chain with a fake chat model that
records what it was sent (map-reduce over long input, the citation check, the fallback), and
the `summarize` CLI. (The real LLM server: test_llm_server.py.)"""

from __future__ import annotations

import json
import re

import pytest
from helpers import assert_cited, run_ingest, with_llm, write_article
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.search.articles import article_passages, find_article
from rag.summarize.pipeline import NO_TOPIC, summarize_article, summarize_topic

# A long article whose points are spread over its length: a summary that only took the lead
# would miss the later ones.
LONG = "\n\n".join([
    "The regional rail operator announced on Monday that it will replace its entire fleet of diesel "
    "trains with battery-electric models by 2031, the largest such order in the country.",
    "The contract, worth 1.2 billion euros, went to a consortium of two manufacturers after a tender that "
    "lasted eighteen months. The first twelve trains are due to enter service in late 2027.",
    *[f"Passengers on line {n} have complained for years about delays, crowded carriages and broken "
      f"heating, and the operator said the new trains would have more seats and better accessibility "
      f"for wheelchair users on every route, including line {n}." for n in range(1, 9)],
    "Unions welcomed the decision but warned that drivers will need months of retraining, and asked "
    "the operator to guarantee that no maintenance jobs would be cut when the diesel depots close.",
    "Environmental groups said the switch would cut the operator's carbon emissions by about 40 percent, "
    "although they noted that the electricity used to charge the trains still comes partly from gas.",
])


@pytest.fixture
def library(tmp_path, components):
    folder = tmp_path / "lib"
    write_article(folder, "rail.md", "Rail operator orders battery trains", LONG, outlet="Transit Daily",
                  date="2026-02-02", url="https://transit.example/rail")
    write_article(folder, "port.md", "Port dredging approved",
                  "The harbour authority approved a plan on Monday to dredge the eastern channel so that "
                  "larger container ships can dock. The work will cost 18 million euros and start in March. "
                  "Fishermen fear the dredging will disturb breeding grounds in the bay.",
                  outlet="Coast Post", date="2026-02-03")
    run_ingest(components, [folder])
    return components


def assert_contract(c, summary) -> None:
    assert_cited(c, summary.summary, summary.citations)


def test_extractive_article_summary_covers_more_than_the_lead(library):
    rec = find_article(library, "https://transit.example/rail")
    s = summarize_article(library, rec)
    assert s.mode == "extractive"
    assert_contract(library, s)
    assert {cit.article_id for cit in s.citations} == {rec.article_id}  # only that article
    assert 3 <= len(s.citations) <= 4
    quotes = [cit.quote for cit in s.citations]
    lead_end = LONG.index("Passengers")
    assert any(LONG.index(q) > lead_end for q in quotes), "only the lead was summarized"
    # MMR: the eight near-identical complaint paragraphs give at most one sentence.
    assert sum("Passengers on line" in q for q in quotes) <= 1


def test_topic_summary_cites_across_articles_and_refuses_off_topic(library):
    s = summarize_topic(library, "battery electric trains order")
    assert s.mode == "extractive" and s.citations
    assert_contract(library, s)
    assert any("battery-electric" in c.quote or "trains" in c.quote for c in s.citations)
    off = summarize_topic(library, "recipes for sourdough bread")
    assert off.summary == NO_TOPIC and off.citations == []


class Recording(FakeListChatModel):
    """A fake chat model that records each prompt and answers by citing what it was given:
    a map call cites the first passage it saw, a combine call keeps the partials' markers and
    adds an invalid one."""

    prompts: list[str] = []
    responses: list[str] = ["unused"]

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        text = messages[-1].content  # the human turn (the system prompt mentions both tags)
        self.prompts.append(text)
        if "<partial>" in text:
            parts = re.findall(r"<partial>(.*?)</partial>", text, re.S)
            kept = dict.fromkeys(m for part in parts for m in re.findall(r"\[\d+\]", part) if m != "[77]")
            return "Combined: " + " ".join(kept) + " [77]."
        ids = re.findall(r'<passage id="(\d+)">', text)
        return f"Part [{ids[0]}] covers passages {ids[0]} to {ids[-1]}."


def test_long_input_is_map_reduced_without_silent_cuts(library):
    rec = find_article(library, "https://transit.example/rail")
    passages = article_passages(library, rec)
    assert len(passages) >= 3
    small = library.settings.model_copy(update={"llm_context_tokens": 1100, "llm_max_tokens": 150})
    from rag.components import Components

    c = Components(small, embedder=library.embedder, tokenizer=library.tokenizer)
    model = Recording(prompts=[])
    s = summarize_article(with_llm(c, model), rec)
    map_calls = [p for p in model.prompts if "<partial>" not in p]
    assert len(map_calls) >= 2, "the article should not fit one call at this window"
    assert any("<partial>" in p for p in model.prompts)
    for p in passages:  # every passage reached the model in some map call: nothing was cut
        assert any(p.text in call for call in map_calls)
    assert s.mode == "llm"
    assert any("map-reduce" in w for w in s.warnings)
    assert any("removed citation [77]" in w for w in s.warnings)
    assert len(s.citations) == len(map_calls)  # one citation per part, renumbered 1..n
    assert_contract(c, s)


def test_llm_failure_falls_back_to_extractive(library):
    rec = find_article(library, "https://transit.example/rail")
    settings = library.settings.model_copy(update={"llm": "openai", "llm_base_url": "http://127.0.0.1:9/v1",
                                                   "llm_timeout": 5.0})
    from rag.components import Components

    c = Components(settings, embedder=library.embedder, tokenizer=library.tokenizer)
    s = summarize_article(c, rec)
    assert s.mode == "extractive" and s.citations
    assert any("unreachable" in w and "summarized extractively" in w for w in s.warnings), s.warnings


def test_llm_summary_without_citations_is_not_passed_off(library):
    rec = find_article(library, "https://transit.example/rail")
    s = summarize_article(with_llm(library, FakeListChatModel(responses=["Trains are nice."])), rec)
    assert s.mode == "extractive"
    assert any("cited no given passage" in w for w in s.warnings)


def test_cli_summarize_contract_and_errors(library):
    from click.testing import CliRunner

    from rag.cli.app import main
    from rag.components import Components

    obj = {"components": lambda s: Components(s, embedder=library.embedder, tokenizer=library.tokenizer)}
    args = ["--data-dir", str(library.data_dir)]
    runner = CliRunner()
    res = runner.invoke(main, ["summarize", "https://transit.example/rail", "--json", *args], obj=obj)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert set(data) == {"target", "summary", "mode", "citations", "warnings"}
    res = runner.invoke(main, ["summarize", "--topic", "harbour dredging", *args], obj=obj)
    assert res.exit_code == 0 and "Sources:" in res.stdout and "Coast Post" in res.stdout
    res = runner.invoke(main, ["summarize", "no-such-article", *args], obj=obj)
    assert res.exit_code == 1 and "no article 'no-such-article'" in res.output
    assert runner.invoke(main, ["summarize", *args], obj=obj).exit_code == 2
    both = runner.invoke(main, ["summarize", "x", "--topic", "y", *args], obj=obj)
    assert both.exit_code == 2 and "not both" in both.output


class Wordy(Recording):
    """Map answers as long as a real model's may be, so a combine call holds only a few; each
    also cites passages 1 to `cites_up_to`, whether it was given them or not."""

    cites_up_to: int = 0

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        answer = super()._call(messages, stop, run_manager, **kwargs)
        if "<partial>" in messages[-1].content:
            return answer
        also = "".join(f"[{n}]" for n in range(1, self.cites_up_to + 1))
        return answer + " It went on." * 40 + f" See also {also}."


@pytest.mark.parametrize("cap", [1, 3, 5, 8])
def test_map_reduce_stays_within_the_call_cap(library, tmp_path, cap):
    body = "\n\n".join(
        f"Council meeting {n} discussed the budget for district {n}: the {n} members voted on road repairs, "
        f"school meals and the library's opening hours, and agreed to meet again in week {n + 1} to hear "
        f"what residents of district {n} said about the plans for parking and street lighting."
        for n in range(1, 61))
    write_article(tmp_path / "long", "council.md", "A year of council meetings", body, outlet="Town Crier",
                  date="2026-03-01", url="https://crier.example/council")
    run_ingest(library, [tmp_path / "long"])
    rec = find_article(library, "https://crier.example/council")
    passages = article_passages(library, rec)
    from rag.components import Components

    small = library.settings.model_copy(update={"llm_context_tokens": 1100, "llm_max_tokens": 150})
    uncapped = Recording(prompts=[])
    summarize_article(with_llm(Components(small.model_copy(update={"llm_max_calls": 1000}),
                                          embedder=library.embedder, tokenizer=library.tokenizer), uncapped), rec)
    assert len(uncapped.prompts) > 3, "this article needs more calls than the caps below at this window"
    c = Components(small.model_copy(update={"llm_max_calls": cap}), embedder=library.embedder,
                   tokenizer=library.tokenizer)
    model = Wordy(prompts=[], cites_up_to=len(passages))
    s = summarize_article(with_llm(c, model), rec)
    assert 1 <= len(model.prompts) <= cap
    map_calls = [p for p in model.prompts if "<partial>" not in p]
    assert passages[0].text in map_calls[0], "the lead is always sent"
    sent = [p for p in passages if any(p.text in call for call in map_calls)]
    assert len(sent) < len(passages)
    assert any(f"only its {len(sent)} most central passages of {len(passages)}" in w for w in s.warnings)
    assert s.mode == "llm"
    assert_contract(c, s)
    # Markers for passages the model was never sent are removed, not quoted from unsent text.
    assert len(s.citations) == len(sent)
    assert all(any(cit.quote in p.text for p in sent) for cit in s.citations)
    dropped = next(n for n, p in enumerate(passages, 1) if p not in sent)
    assert f"removed citation [{dropped}]: no passage {dropped} was given" in s.warnings


def test_text_without_sentence_ends_is_still_summarized(tmp_path, components):
    """A transcript-like text with no full stop is one "sentence" longer than any passage: the
    summary quotes parts of it instead of coming back empty."""
    words = ("the council debated the harbour plan and the cost of dredging and the fishermen spoke "
             "about the mussel beds and the mayor answered questions from residents").split()
    body = " ".join(words[i % len(words)] for i in range(700))
    path = write_article(tmp_path / "lib", "transcript.md", "Council meeting transcript", body,
                         outlet="City Post", date="2026-03-03")
    run_ingest(components, [path])
    rec = find_article(components, str(path))
    assert rec.chunks >= 2
    s = summarize_article(components, rec)
    assert s.mode == "extractive" and s.citations and s.summary
    assert_contract(components, s)
