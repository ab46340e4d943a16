"""Finding the answer among retrieved sentences (issue #19, RealTime QA round): questions in an
article are no answers, country and state names as places, candidate answers of the expected
kind and their support across sentences, the question's own period ("this week") preferring
passages published in it, and "US" found as "U.S."."""

from __future__ import annotations

from datetime import date

import numpy as np
from helpers import run_ingest, write_article

from rag.answer.extractive import ScoredSentence, _answer_votes, in_period
from rag.answer.pipeline import answer_question
from rag.answer.question_types import answer_spans, expected_type, missing_names
from rag.models import Passage
from rag.search.filters import SearchFilters
from rag.text.places import countries_in, states_in
from rag.text.sentences import is_question


def test_questions_in_articles_are_recognized():
    assert is_question("What airports are ICE agents going to?")
    assert is_question("Why is tax day on April 15?”")
    assert not is_question('"Why would we do that?" he asked.')
    assert not is_question("Tax day falls on April 15 almost every year.")


def test_place_names_longest_first():
    assert states_in("The highest priced state remains California, then West Virginia.") == ["California",
                                                                                             "West Virginia"]
    assert countries_in("Saudi Arabia and the United Arab Emirates") == ["Saudi Arabia", "United Arab Emirates"]


def test_answer_spans_of_the_expected_kind():
    q = "Which state recorded the highest average gas price in the US this week?"
    assert expected_type(q) == "place"
    assert answer_spans("place", "The highest priced state remains California, ahead of Texas.", q) == [
        "california", "texas"]
    # "Which city …?" is not answered by a country
    assert answer_spans("place", "Putin flew in from Russia to Pyongyang.", "Which city did Putin visit?") == [
        "pyongyang"]
    # the question's own names are no answers; a leading "The" is dropped; names like "McFadden" hold
    who = "Which bestselling author revealed her pen name?"
    assert expected_type(who) == "person"
    assert answer_spans("person", "The Middle Eastern author Freida McFadden spoke.", who) == [
        "middle eastern", "freida mcfadden"]
    assert answer_spans("person", "Kash Patel sued.", "Did Kash Patel sue?") == []
    assert "millions" in answer_spans("number", "Russia is buying millions of shells.", "How many shells?")


def test_person_nouns_after_modifiers():
    assert expected_type("Which late night host will write the next film?") == "person"
    assert expected_type("Which Trump administration official filed a suit?") == "person"
    assert expected_type("Which golfer won his second consecutive Masters?") == "person"


def _cand(i: int, text: str, score: float) -> ScoredSentence:
    return ScoredSentence(i, 0, len(text), score, np.zeros(3, np.float32), 0.0, text)


def test_an_answer_several_good_sentences_give_wins_the_vote():
    q = "Which state was hit by flooding this week?"
    scored = [_cand(0, "Flooding hit the Midwest this week, Iowa officials said.", 0.70),
              _cand(1, "Evacuations were ordered in Wisconsin after the flooding.", 0.66),
              _cand(2, "Wisconsin's governor declared an emergency over the flooding.", 0.64),
              _cand(3, "Ohio once had a flood too.", 0.20)]  # too weak to vote
    votes = _answer_votes("place", q, scored)
    assert votes[id(scored[1])] == votes[id(scored[2])] > votes[id(scored[0])] > 0
    assert id(scored[3]) in votes and votes[id(scored[3])] == 0.0
    assert _answer_votes("reason", "Why did it flood?", scored) == {}  # a clause, not a name, answers


def _passage(i: int, published: str | None) -> Passage:
    return Passage(f"c{i}", f"a{i}", "t", "src", published, None, None, "text", 1.0)


def test_the_questions_own_period_picks_passages_published_in_it():
    passages = [_passage(0, "2026-03-20"), _passage(1, "2019-03-20"), _passage(2, None)]
    assert in_period("Which state was hit by flooding this week?", passages, date(2026, 3, 22)) == {0}
    assert in_period("Which state was hit by flooding?", passages, date(2026, 3, 22)) == set()


def test_us_is_found_as_u_s():
    assert missing_names("What day is Tax Day in the US each year?", ["U.S. tax day falls on April 15."]) == []
    assert missing_names("What did Xi Jinping say?", ["U.S. taxpayers file by April 15."]) == ["Xi Jinping"]


def test_a_question_in_the_article_is_never_the_answer(tmp_path, components):
    body = ("Which state has the highest gas prices this week?\n\n"
            "The highest priced state remains California, with a state average of $6.42 a gallon, AAA said. "
            "Drivers in Texas paid the least for gas this week, the motor club said.")
    run_ingest(components, [write_article(tmp_path / "in", "gas.md", "Gas prices climb", body,
                                          source="USA Today", published="2026-03-20")])
    day = date(2026, 3, 22)
    ans = answer_question(components, "Which state has the highest gas prices this week?", 5,
                          SearchFilters(until=day, as_of=day))
    assert ans.answerable, ans
    assert "?" not in ans.answer and "California" in ans.answer
    assert all(c.quote in (tmp_path / "in" / "gas.md").read_text() for c in ans.citations)


def test_number_words_are_numbers():
    # "Fourteen people were injured" answers "How many …?" as well as "three weeks" does
    assert answer_spans("number", "Fourteen people were injured.", "How many people were injured?") == ["fourteen"]
    assert answer_spans("number", "Ninety minutes later it ended.", "How long did it last?") == ["ninety"]
