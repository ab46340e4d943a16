"""Words for overlap scoring: one stop-word list, light stemming, content words."""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    "a an and are as at be been but by did do does for from had has have he her his how i in is it "
    "its of on or she that the their them they this to was we were what when where which who whom "
    "why will with you your about after all also any can could into more most not said says than "
    "then there these those would".split()
)
# Words that carry no answer in news questions and sentences ("according to", "one of many",
# "this year"), ignored by overlap scoring but kept in keyword search, where they can still
# rank a phrase.
CONTENT_STOPWORDS = STOPWORDS | frozenset("according many much new one year".split())

# Irregular past forms news questions and articles mix ("What did X say" / "X said").
_IRREGULAR = dict(pair.split(":") for pair in (
    "said:say says:say told:tell made:make took:take gave:give won:win led:lead met:meet sent:send "
    "held:hold bought:buy sold:sell began:begin begun:begin knew:know thought:think brought:bring "
    "spoke:speak spoken:speak wrote:write written:write chose:choose fell:fall rose:rise paid:pay "
    "lost:lose kept:keep ran:run saw:see seen:see came:come became:become got:get grew:grow "
    "built:build struck:strike fought:fight flew:fly drove:drive killed:kill died:die dead:die").split())


def stem(word: str) -> str:
    """Truncation stemming: the first 5 letters (supply, supplier, supplying -> suppl), a crude
    but robust stemmer for overlap scoring in English news; irregular verbs to their base."""
    return _IRREGULAR.get(word, word)[:5]


def content_words(text: str) -> list[str]:
    """Lower-cased, lightly stemmed content words, for overlap scoring."""
    return [stem(w) for w in re.findall(r"\w+", text.lower()) if len(w) > 1 and w not in CONTENT_STOPWORDS]

# Verbs of saying: "What did Stoltenberg say?" asks for what was said, and the articles write
# "said"/"says" (stop words), so these never have to match a word of the answer sentence.
REPORTING_VERBS = frozenset("say says said saying tell tells told telling state stated claim claimed "
                            "announce announced".split())
