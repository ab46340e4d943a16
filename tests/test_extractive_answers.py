"""Extractive answers that answer the question (issue #19): expected answer types, neighbours as
candidates, list questions over several articles, the near-miss test, "What did X say?",
metadata questions, yes/no questions, fragments never chosen, every quoted sentence in the
sources. The held-out seed set is tests/data/seed_questions_heldout2.json (never tuned on); the
first held-out set (tests/data/seed_questions_heldout.json) became a tuning set once its failures
were studied."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import assert_cited, run_ingest, write_article

from rag.answer.extractive import NOT_COVERED
from rag.answer.pipeline import answer_question
from rag.answer.question_types import (
    coordinations,
    event_place,
    expected_type,
    is_list_question,
    list_head,
    missing_names,
)
from rag.text.sentences import is_fragment

HELD_OUT = json.loads((Path(__file__).parent / "data" / "seed_questions_heldout2.json").read_text())
TUNING = json.loads((Path(__file__).parent / "data" / "seed_questions_heldout.json").read_text())


@pytest.mark.parametrize("text", [
    "North Korea pursues nuclear weaponry",
    "Where to watch: Apple TV, Amazon Prime Video, Google Play",
    "Russian army struggles to keep up with shortages",
    "“Kim Jong-un visiting Berlin” by driver Photographer",
    "Read more: Why the summit matters",
    "Copyright 2024, HorizonPost.com",
    "Please enter your comment!",
    "By Jane Smith, Senior Correspondent",
    "Photo: Reuters",
    "Related Articles",
])
def test_fragments_are_recognized(text):
    assert is_fragment(text), text


@pytest.mark.parametrize("text", [
    "The meeting, held at the Vostochny Cosmodrome in Russia's Far East, underscored a deepening alliance.",
    "In return, North Korea is seeking advanced technology and food aid to alleviate its severe food shortages.",
    "The countries are also reportedly helping Putin rebuild its war machine",
    "Ukraine recently stated that Russia launched more than 2,270 Iranian drones in 2024.",
    "Stoltenberg said the world would be more dangerous.",
    "Prices rose 4% in May.",
])
def test_sentences_are_not_fragments(text):
    assert not is_fragment(text), text


@pytest.mark.parametrize("question,kind", [
    ("Where did Putin and Kim Jong Un meet?", "place"),
    ("At which site did Putin and Kim Jong Un hold the meeting?", "place"),
    ("Who said Russia was being propped up?", "person"),
    ("Which company makes the Shahed drones?", "organization"),
    ("Which newspaper reported the surprise?", "organization"),
    ("How many Iranian drones did Russia launch in 2024?", "number"),
    ("When did Russia invade Ukraine?", "date"),
    ("On what date was the article published?", "date"),
    ("Is Russia forming a NATO-style military alliance?", "yesno"),
    ("Does North Korea sell arms to Russia?", "yesno"),
    ("Why is Russia turning to North Korea?", "reason"),
    ("What did Stoltenberg say?", "say"),
    ("What is North Korea seeking in return?", "exchange"),
    ("What is North Korea seeking?", None),
])
def test_expected_answer_type(question, kind):
    assert expected_type(question) == kind


def test_list_questions():
    assert is_list_question("What weapons is North Korea supplying to Russia?")
    assert is_list_question("Which countries is Russia partnering with?")
    assert not is_list_question("Where did Putin and Kim Jong Un meet?")
    assert list_head("Which weapons does Russia get from North Korea?") == "weapons"
    assert list_head("What dual-use goods has China sent to Russia?") == "goods"
    assert list_head("Where did Putin and Kim Jong Un meet?") is None


def test_list_items_are_coordinations():
    q = "Which countries is Russia partnering with?"
    assert coordinations("Russia has expanded its alliances with China, North Korea, and Iran in recent months.", q) \
        == ["China North Korea Iran"]
    assert coordinations("That includes “machine tools [and] microelectronics.”", q) == ["machine tools microelectronics"]
    assert coordinations("Korea is supplying Russia with artillery and other ammunition.", q) == ["artillery ammunition"]
    assert coordinations("The alliance between Russia and North Korea has grown.", q) == []  # a pair, no list


def test_event_place():
    q = "Where did Putin and Kim Jong Un meet?"
    assert event_place("The meeting, held at the Vostochny Cosmodrome in Russia's Far East, underscored ties.", q)
    assert not event_place("The meeting between Putin and Kim alarmed officials, particularly in the United States.", q)
    assert not event_place("The meeting, held at the Vostochny Cosmodrome, underscored ties.",
                           "Which countries is Russia partnering with?")


def _library(tmp_path):
    lib = tmp_path / "lib"
    write_article(lib, "harbor.md", "Harbor fees rise for cruise ships",
                  "The port authority raised harbor fees for cruise ships by 12 percent on Monday. "
                  "Ship owners said the increase would cut visits.",
                  outlet="Coast Ledger", date="2026-02-03", author="Mara Lind")
    write_article(lib, "park.md", "City park reopens after flood repairs",
                  "The central park reopened on Friday after six months of repairs. The mayor opened the gates.",
                  outlet="City Post", date="2026-02-06")
    return lib


def test_metadata_questions_are_answered_from_metadata(tmp_path, components):
    run_ingest(components, [_library(tmp_path)])
    cases = [
        ("Which outlet published the article titled 'Harbor fees rise for cruise ships'?", "Coast Ledger"),
        ("Who wrote the article 'Harbor fees rise for cruise ships'?", "Mara Lind"),
        ("On what date was the article about the city park reopening after flood repairs published?", "2026-02-06"),
        ("When was \"City park reopens after flood repairs\" published?", "2026-02-06"),
    ]
    for question, expected in cases:
        ans = answer_question(components, question)
        assert ans.answerable and expected in ans.answer, (question, ans.answer)
        assert_cited(components, ans.answer, ans.citations)
        assert len(ans.citations) == 1
        assert ans.citations[0].title in {"Harbor fees rise for cruise ships", "City park reopens after flood repairs"}


def test_metadata_question_without_the_field_says_so(tmp_path, components):
    run_ingest(components, [_library(tmp_path)])
    ans = answer_question(components, "Who wrote the article 'City park reopens after flood repairs'?")
    assert ans.answerable and "no author" in ans.answer and ans.citations
    assert_cited(components, ans.answer, ans.citations)


def _quoted_sentences(answer: str) -> list[tuple[str, int]]:
    """(sentence, n) for each quoted piece of an extractive answer ("… [1] … [2]")."""
    return [(m.group(1).strip(), int(m.group(2))) for m in re.finditer(r"(.+?)\s\[(\d+)\]", answer)]


def _check_answer(c, item: dict, ans) -> str | None:
    """Why an answer fails its held-out item, or None."""
    text = ans.answer.lower()
    files = {Path(cit.path).name for cit in ans.citations if cit.path}
    if not ans.answerable:
        return "refused"
    if "all_of" in item:
        groups = sum(any(a.lower() in text for a in group) for group in item["all_of"])
        if groups < item["min_groups"] or len(files & set(item["files"])) < item.get("min_files", 1):
            return f"{groups} groups from {sorted(files)}"
    elif not any(a.lower() in text for a in item["answer"]):
        return "answer string missing"
    if not files & set(item["files"]):
        return f"cites {sorted(files)}"
    return None


def _failures(c, items: list[dict]) -> list[str]:
    """The items answered wrong, after checking that every answer passes the citation contract
    and shows each quoted sentence in its source."""
    failures = []
    for item in items:
        ans = answer_question(c, item["q"])
        assert ans.mode == "extractive"
        assert_cited(c, ans.answer, ans.citations)
        quotes = {cit.n: cit.quote for cit in ans.citations}
        for sentence, n in _quoted_sentences(ans.answer):
            if not sentence.startswith("The article"):  # metadata answers are not quotes
                assert " ".join(sentence.split()) in " ".join(quotes[n].split()).replace("[", "(").replace("]", ")")
        why = _check_answer(c, item, ans)
        if why:
            failures.append(f"{item['kind']}: {item['q']} -> {why}: {ans.answer[:200]}")
    return failures


@pytest.mark.model  # needs the real model: which sentences mean the same
def test_held_out_seed_questions(seed_index):
    """The failure kinds of issue #19 on questions never tuned on (seed_questions_heldout2.json).
    Every answer passes the citation contract and shows each quoted sentence in its source. Written
    before the changes it measures: 13/20 right with the code of that morning, 15/20 after (run
    once, 2026-12-01). Still wrong: a list question not worded "What <things> …" ("What has North
    Korea given Russia …?"), two yes/no questions ("Would the arms deal … violate UN resolutions?",
    "Has Joe Biden spoken out …?"), "the article about Russia turning to North Korea out of
    desperation" (another article holds that phrase) and "Russia's biggest supplier" (the article
    says "largest"). #19 wants all 20; the floor is what was measured, so that a regression shows."""
    failures = _failures(seed_index, HELD_OUT["answerable"])
    assert len(HELD_OUT["answerable"]) == 20
    assert len(failures) <= 5, "\n".join(failures)


@pytest.mark.model
def test_tuning_seed_questions_of_issue_19(seed_index):
    """The first held-out set, now tuned on (seed_questions_heldout.json): 16/20 right
    before the fixes of issue #19 studied on it (place of an event, "in return", list items,
    "the article about …"), 20/20 after."""
    failures = _failures(seed_index, TUNING["answerable"])
    assert len(failures) <= 0, "\n".join(failures)


@pytest.mark.model
def test_held_out_near_misses_and_off_topic_are_refused(seed_index):
    """A question whose rare name is in no retrieved passage is refused or told that no article
    mentions it; off-topic questions are refused."""
    for item in HELD_OUT["refuse"] + TUNING["refuse"]:
        ans = answer_question(seed_index, item["q"])
        assert not ans.answerable or not ans.citations, (item["q"], ans.answer)
        if ans.answer != NOT_COVERED:
            assert item["missing"].lower() in ans.answer.lower() and "no indexed article mentions" in ans.answer
    for q in HELD_OUT["unanswerable"] + TUNING["unanswerable"]:
        ans = answer_question(seed_index, q)
        assert not ans.answerable and ans.answer == NOT_COVERED, (q, ans.answer)


@pytest.mark.model
def test_captions_and_subheads_are_never_answers(seed_index):
    """"North Korea pursues nuclear weaponry" (a subhead) and photo credits are not quoted."""
    for q in ("Is North Korea pursuing nuclear weapons?", "What does North Korea pursue?",
              "Who photographed Kim Jong-un visiting Berlin?", "Why is the Russian army struggling?"):
        ans = answer_question(seed_index, q)
        for sentence, _ in _quoted_sentences(ans.answer):
            assert not is_fragment(sentence), (q, sentence)


def test_missing_names_are_the_near_miss_test():
    texts = ["Putin met Kim Jong Un at the cosmodrome. Stoltenberg said Russia was propped up by Iran’s drones."]
    assert missing_names("What did Xi Jinping say about the Putin-Kim summit?", texts) == ["Xi Jinping"]
    assert missing_names("How many Shahed drones did Iran deliver to Venezuela in 2023?", texts) == \
        ["Shahed", "Venezuela"]
    assert missing_names("What did Jens Stoltenberg say?", texts) == []
    assert missing_names("What did the November 2023 report say about Kim?", texts) == []  # a month is no name


def test_every_quoted_sentence_is_in_its_source(tmp_path, components):
    """Two quoted sentences of one passage: close ones share one quote spanning both, distant ones
    get a number each, so the sources list shows every quoted sentence (issue #19)."""
    from rag.answer.extractive import ExtractiveAnswerer, ScoredSentence
    from rag.search.retrieval import retrieve
    from rag.text.sentences import split_sentences

    filler = " ".join(f"The council met for session {i} of the long annual budget review." for i in range(6))
    body = f"The harbor fees rose by 12 percent. Ship owners said visits would fall. {filler} The port will review the fees in May."
    run_ingest(components, [write_article(tmp_path / "lib", "harbor.md", "Harbor fees rise", body, outlet="Coast Ledger")])
    passage = retrieve(components, "harbor fees", 1)[0]
    ex = ExtractiveAnswerer(components)
    article = components.registry.get(passage.article_id, with_text=True).text
    spans = split_sentences(article)
    spans = [s for s in spans if article[s[0]:s[1]] != passage.title]

    def sentence(i: int) -> ScoredSentence:
        return ScoredSentence(0, spans[i][0], spans[i][1], 1.0, None, 0.0, article[spans[i][0]:spans[i][1]])

    close = ex._render([sentence(0), sentence(1)], [passage])
    assert close.text.count("[1]") == 2 and close.quotes[1] == article[spans[0][0]:spans[1][1]]
    far = ex._render([sentence(0), sentence(len(spans) - 1)], [passage])
    assert "[1]" in far.text and "[2]" in far.text and len(far.passages) == 2
    assert far.quotes[2] == "The port will review the fees in May."
    from rag.answer.citations import check_citations
    from rag.search.articles import article_texts

    checked = check_citations(far.text, far.passages, article_texts(components), far.quotes)
    assert_cited(components, checked.text, checked.citations)
    assert [c.quote for c in checked.citations] == [far.quotes[1], far.quotes[2]]
