"""What a question asks for: the expected answer type (place, person, organization, number,
date, yes/no, reason, what someone said), whether it asks for a list, the rare names it
depends on, and whether a sentence carries an answer of that type the question does not hold."""

from __future__ import annotations

import re

from rag.text.places import COUNTRIES, US_STATES, countries_in, states_in
from rag.text.words import STOPWORDS

_AUX = r"(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|shall|may|might|must)"
_YESNO = re.compile(rf"^{_AUX}\b")
_REASON = re.compile(r"\bwhy\b|\bwhat (?:caused|prompted|led to|drove|motivated)\b|\bfor what reason\b|"
                     r"\bwhat (?:is|was|are|were) the (?:reason|cause|motive)s?\b")
_SAY = re.compile(rf"\bwhat {_AUX}\b.*\b(?:say|said|saying|tell|told|claim|announce|warn|state)\b")
# "What is North Korea seeking in return?": the answer is what comes back, which articles write
# beside "in return", often in the sentence after the one the question restates.
_EXCHANGE = re.compile(r"\bin (?:return|exchange)\b|\bin turn\b")
_NUMBER = re.compile(r"\bhow (?:many|much|long|old|far|big|large|high|often)\b|"
                     r"\bwhat (?:number|percentage|percent|share|amount|price|cost|proportion|rate)\b")
_DATE = re.compile(r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|time|week)\b")
_WHICH = r"\b(?:which|what)\s+(?:[\w-]+\s+)?"
_PLACE = re.compile(r"\bwhere\b|" + _WHICH + r"(?:city|cities|country|countries|place|region|site|state|province|"
                    r"town|location|venue|area|nation|nations|port|base|capital|island|border)\b")
_ORG = re.compile(_WHICH + r"(?:company|companies|newspaper|outlet|organi[sz]ation|agency|group|party|bank|firm|"
                  r"network|paper|publication|team|union|ministry|broadcaster|airline|forum|club|institution)\b")
# A person is asked for by "who" or by a noun for people, after up to three modifiers ("Which Trump
# administration official …?", "Which late night host …?"; RealTime QA asks so for hosts,
# golfers, stars, billionaires, celebrities, playwrights).
_PERSON = re.compile(r"\bwho\b|\bwhom\b|\bwhose\b|\b(?:which|what)\s+(?:[\w-]+\s+){0,3}?(?:leader|official|person|"
                     r"people|president|minister|man|woman|journalist|author|player|general|spokes\w+|chief|ceo|"
                     r"analyst|expert|lawmaker|senator|politician|actor|actress|singer|candidate|coach|host|"
                     r"golfer|star|billionaire|celebrity|playwright|writer|novelist|poet|athlete|rapper|"
                     r"musician|comedian|director|judge|justice|governor|mayor|pope|king|queen|prince|princess|"
                     r"artist|quarterback|pitcher|driver|executive|founder|entrepreneur|lawyer|doctor|"
                     r"scientist|astronaut|activist|designer|chef|composer|legend|icon|billionaires|"
                     r"tycoon|mogul|magnate|pitcher|boxer|swimmer|skier|gymnast|cyclist|runner|sprinter)\b")

# "Which film won best picture?", "Which rare phenomenon was spotted …?": a named thing (RealTime QA
# answers these with a name: "Golden", "Coachella", "Fireball"); "What is …" / "What did …" is not.
_ENTITY_Q = re.compile(rf"\b(?:which|what)\s+(?!{_AUX}\b|it\b|they\b|he\b|she\b|we\b|you\b)[a-z][\w-]*")

# "What weapons …", "Which countries …": a plural noun after what/which asks for several things.
_LIST = re.compile(r"^(?:what|which)\s+(?:[\w-]+\s+)?(?:weapons|countries|nations|goods|items|arms|products|"
                   r"companies|people|groups|things|kinds|types|states|cities|leaders|officials|members|"
                   r"allies|partners|steps|measures|sanctions|materials|supplies|technologies)\b|"
                   r"^(?:what|which)\s+[a-z]+s\s+(?:is|are|does|do|did|has|have|was|were)\b")


def expected_type(question: str) -> str | None:
    """The kind of answer `question` expects: "yesno", "exchange", "reason", "say", "number", "date",
    "person", "place", "organization", or None (a thing or a description)."""
    q = " ".join(question.lower().split())
    if _YESNO.match(q):
        return "yesno"
    if _EXCHANGE.search(q):
        return "exchange"
    if _REASON.search(q):
        return "reason"
    if _SAY.search(q) and not q.startswith("who"):
        return "say"
    if _NUMBER.search(q):
        return "number"
    if _DATE.search(q):
        return "date"
    if q.startswith(("who ", "whom ", "whose ")):
        return "person"
    for kind, pattern in (("place", _PLACE), ("organization", _ORG), ("person", _PERSON)):
        if pattern.search(q):
            return kind
    if _ENTITY_Q.search(q) and not is_list_question(q):
        return "entity"
    return None


def is_list_question(question: str) -> bool:
    """Whether the question asks for several things ("What weapons is North Korea supplying?")."""
    return bool(_LIST.search(" ".join(question.lower().split())))


_LIST_HEAD = re.compile(rf"^(?:what|which)\s+(?:(?:kinds?|types?|sorts?) of\s+)?(?:[\w-]+\s+)?([a-z][\w-]*)\s+{_AUX}\b")


def list_head(question: str) -> str | None:
    """The noun a list question asks for instances of ("What weapons is …?" -> "weapons"), or None."""
    q = " ".join(question.lower().split())
    m = _LIST_HEAD.match(q) if is_list_question(q) else None
    return m.group(1) if m else None


_TOKEN = re.compile(r"[A-Za-z][\w'’-]*|[^\w\s\[\]]")
_CONJUNCTIONS = frozenset({"and", "or"})
_PAIRING = frozenset({"between", "both", "either", "neither"})  # "between X and Y" pairs, lists nothing
_CONJUNCT_WORDS = 3  # words of one conjunct ("artillery shells", "North Korea")


def _conjunct(tokens: list[str], i: int, step: int) -> tuple[list[str], int]:
    """The run of up to _CONJUNCT_WORDS non-stop words from tokens[i] on (step 1) or back (step
    -1), and the index where it stopped."""
    words: list[str] = []
    while 0 <= i < len(tokens) and len(words) < _CONJUNCT_WORDS:
        t = tokens[i]
        if not t[0].isalpha() or t.lower() in STOPWORDS or t.lower() in _PAIRING:
            break
        if t.lower() != "other":
            words.append(t)
        i += step
    return (words[::-1] if step < 0 else words), i


def coordinations(sentence: str, question: str) -> list[str]:
    """The coordinated phrases of `sentence` ("rockets and artillery shells", "China, North
    Korea, and Iran", "machine tools [and] microelectronics"), conjuncts cut at stop words, with
    the question's own words left out, where two words remain: the items of a list answer."""
    tokens = _TOKEN.findall(sentence)
    qwords = {w.lower() for w in _TOKEN.findall(question)}
    out = []
    for k, tok in enumerate(tokens):
        if tok.lower() not in _CONJUNCTIONS:
            continue
        j = k + 1 + (k + 1 < len(tokens) and tokens[k + 1].lower() == "other")
        right, _ = _conjunct(tokens, j, 1)
        left, i = _conjunct(tokens, k - 1 - (k > 0 and tokens[k - 1] == ","), -1)
        while left and i > 0 and tokens[i] == ",":  # "China, North Korea, and Iran"
            more, i = _conjunct(tokens, i - 1, -1)
            if not more:
                break
            left = more + left
        left, right = [w for w in left if w.lower() not in qwords], [w for w in right if w.lower() not in qwords]
        if left and right:
            out.append(" ".join(left + right))
    return out


_QUESTION_WORDS = frozenset("what which who whom whose where when why how is are was were do does did has have "
                            "had can could will would should on in at for of the a an".split()) | frozenset(
    # dates are not names: "the November 2023 report" is dated 2023-11-12, not worded so
    "january february march april may june july august september october november december monday "
    "tuesday wednesday thursday friday saturday sunday".split())
_NAME_RUN = re.compile(r"[A-Z][\w’'.]*(?:[\s-]+(?:[A-Z][\w’'.]*|(?:de|al|bin|von|van)\b))*")


def question_names(question: str) -> list[str]:
    """The names in a question (runs of capitalized words, the opening question word left out):
    "What did Xi Jinping say about the Putin-Kim summit?" -> ["Xi Jinping", "Putin-Kim"]."""
    names = []
    for m in _NAME_RUN.finditer(question):
        # a capitalized common word opens a sentence or clause ("And how long…?"), it names nothing
        words = [w for w in re.split(r"[\s]+", m.group(0))
                 if w.lower().strip("’'.") not in _QUESTION_WORDS and w.lower().strip("’'.") not in STOPWORDS]
        if m.start() == 0 and words and words[0] == m.group(0).split()[0] and words[0].lower() in _QUESTION_WORDS:
            words = words[1:]
        if words:
            names.append(" ".join(words))
    return names


def _tokens(text: str) -> set[str]:
    words = {w.lower().strip("’'.") for w in re.findall(r"[A-Za-z][\w’'.]*", text)}
    return words | {w.replace(".", "") for w in words if "." in w}  # "U.S." is the question's "US"


def missing_names(question: str, texts: list[str]) -> list[str]:
    """The question's names of which no part occurs in `texts` (the retrieved passages): a name
    counts as present when one of its words (3 letters or more, or an acronym) is there, so
    "Jens Stoltenberg" is found by "Stoltenberg" and "Putin-Kim" by "Putin"."""
    seen: set[str] = set()
    for t in texts:
        seen |= _tokens(t)
    seen |= {w[:-2] for w in seen if w.endswith(("’s", "'s"))}
    out = []
    for name in question_names(question):
        parts = [p.lower().strip("’'.") for p in re.split(r"[\s-]+", name)]
        parts = [p.removesuffix("’s").removesuffix("'s") for p in parts if len(p) >= 2]
        if parts and not any(p in seen or (len(p) >= 5 and any(w.startswith(p[:5]) for w in seen)) for p in parts):
            out.append(name)
    return out


_NUMERAL = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                      r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|"
                      r"twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|trillions?|dozens?|half)\b", re.I)
_DATE_WORD = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s+\d|\s+(?:19|20)\d\d)|"
                        r"\b(?:19|20)\d\d\b|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
                        r"yesterday|last (?:week|month|year)|earlier this (?:week|month|year))\b", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)?(?:[\s-]+(?:[A-Z]\.\s)?[A-Z][a-z]+(?:[A-Z][a-z]+)?)+\b")  # "Freida McFadden"
_PLACE_NAME = re.compile(r"\b(?:in|at|to|from|near|inside|outside)\s+(?:the\s+)?([A-Z][\w-]+(?:\s+[A-Z][\w-]+)*)")
_MONTH_OR_DAY = re.compile(r"^(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)[a-z]*$",
                           re.I)
# The place of an event: "held at the Vostochny Cosmodrome", "met in Geneva", "took place near …".
_EVENT_PLACE = re.compile(r"\b(?:held|hosted|took place|taking place|met|meet|meeting|gathered|convened|staged)"
                          r"\s+(?:[a-z]+\s+){0,2}?(?:at|in|near|inside)\s+(?:the\s+)?([A-Z][\w-]+(?:\s+[A-Z][\w-]+)*)")
_ORG_NAME = re.compile(r"\b(?:[A-Z][\w&-]+\s+){0,3}(?:Journal|Times|Post|News|Ministry|Agency|Corp|Inc|Bank|"
                       r"Council|Party|Forum|Group|Company|Committee|Organization|Institute|Association|"
                       r"Union|Reuters|Press|Bureau|Department|Office|Commission|Fund)\b|\b[A-Z]{2,6}\b")
# A capitalized word that does not open the sentence, or a quoted title.
_CAPITALIZED = re.compile(r"(?<=[\w,;:)] )[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*|“[^”]{2,60}”")
_IN_RETURN = re.compile(r"\bin (?:return|exchange)\b|\bin turn\b|\bin compensation\b|\bin payment\b", re.I)
_POLARITY = re.compile(r"\b(?:not|no|never|neither|nor|none|n[’']t|denied|denies|deny|confirmed|confirms|"
                       r"indeed|formal|only|yes)\b", re.I)
_CAUSE = re.compile(r"\b(?:because|due to|as a result|result of|caused by|driven by|need for|needs|in order to|"
                    r"so that|to help|to support|amid|after|since|blamed|reason|led to|prompted|"
                    r"in a bid to|seeking|desperat\w*)\b", re.I)
_SPEECH = re.compile(r"\b(?:said|says|say|told|stated|warned|added|noted|claimed|announced|emphasi[sz]ed|"
                     r"called|urged|argued|insisted|stressed)\b|[“\"]", re.I)


def _new(found: list[str], question: str) -> bool:
    q = question.lower()
    return any(f.strip() and f.strip().lower() not in q for f in found)


def carries(kind: str | None, sentence: str, question: str) -> bool:
    """Whether `sentence` holds an answer of the `kind` the question expects, one the question
    does not already state (a number, date or name that is not in the question)."""
    if kind == "number":
        return _new(_NUMERAL.findall(sentence), question)
    if kind == "date":
        return _new(_DATE_WORD.findall(sentence), question)
    if kind == "person":
        return _new(_NAME.findall(sentence), question)
    if kind == "place":
        return _new(_places(sentence, question), question)
    if kind == "organization":
        return _new(_ORG_NAME.findall(sentence), question)
    if kind == "yesno":
        return bool(_POLARITY.search(sentence))
    if kind == "reason":
        return bool(_CAUSE.search(sentence))
    if kind == "exchange":
        return bool(_IN_RETURN.search(sentence))
    if kind == "say":
        return bool(_SPEECH.search(sentence))
    if kind == "entity":
        return _new(_CAPITALIZED.findall(sentence), question)
    return False


_WHERE = re.compile(r"\bwhere\b|\b(?:which|what)\s+(?:[\w-]+\s+)?(?:site|venue|location|place)\b", re.I)


def event_place(sentence: str, question: str) -> bool:
    """For a question asking where (not "Which countries …?"): Whether `sentence` names where an event happened ("The meeting, held at the Vostochny
    Cosmodrome …"), with a place the question does not hold: a stronger answer to "Where did …
    meet?" than a sentence that mentions a place in passing ("… particularly in the United States")."""
    return bool(_WHERE.search(question)) and _new(_EVENT_PLACE.findall(sentence), question)


_STATE_Q = re.compile(r"\b(?:which|what)\s+(?:[\w-]+\s+)?states?\b", re.I)
_COUNTRY_Q = re.compile(r"\b(?:which|what)\s+(?:[\w-]+\s+)?(?:country|countries|nations?)\b", re.I)
_CITY_Q = re.compile(r"\b(?:which|what)\s+(?:[\w-]+\s+)?(?:city|cities|town|towns)\b", re.I)
_QUOTED = re.compile(r"[“\"]([^”\"]{2,60})[”\"]")


def _places(sentence: str, question: str) -> list[str]:
    if _STATE_Q.search(question):
        return states_in(sentence)
    if _COUNTRY_Q.search(question):
        return countries_in(sentence)
    found = [n for n in _PLACE_NAME.findall(sentence) if not _MONTH_OR_DAY.match(n.split()[0])]
    if _CITY_Q.search(question):  # "Which city …?" is not answered by "in Ukraine"
        found = [n for n in found if n not in COUNTRIES and n not in US_STATES]
    return found


def answer_spans(kind: str | None, sentence: str, question: str) -> list[str]:
    """The candidate answers of the expected `kind` in `sentence` that the question does not hold,
    lower-cased: names for person/organization/entity questions, country or state names for
    "Which country/state …?", numbers, dates. Empty for kinds answered by a clause (yes/no,
    reason, what someone said)."""
    if kind == "person":
        found = _NAME.findall(sentence)
    elif kind == "place":
        found = _places(sentence, question)
    elif kind == "organization":
        found = _ORG_NAME.findall(sentence)
    elif kind in ("entity", None):
        found = _CAPITALIZED.findall(sentence) + _QUOTED.findall(sentence)
    elif kind == "number":
        found = _NUMERAL.findall(sentence)
    elif kind == "date":
        found = _DATE_WORD.findall(sentence)
    else:
        return []
    qwords = {w.lower() for w in re.findall(r"[\w’'-]+", question)}
    out = []
    for f in found:
        span = re.sub(r"^the\s+", "", " ".join(f.strip("“”\"").split()).lower())
        words = re.findall(r"[\w’'-]+", span)
        if words and not all(w in qwords or w in STOPWORDS for w in words):
            out.append(span)
    return out
