"""What the bot does, without Discord: the same core calls as the CLI, per guild's collection.

Everything here is blocking (model, Chroma, SQLite, LLM); the Discord layer runs it in worker
threads so the event loop never waits on it. An ingest fetches before it takes the write lock,
so a slow server holds up only the guild that asked for it.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import TYPE_CHECKING

from rag.answer.pipeline import Answer, answer_question
from rag.briefing.pipeline import make_briefing
from rag.briefing.results import Briefing
from rag.components import Components
from rag.ingest.loader import Loader
from rag.search.filters import SearchFilters
from rag.settings import Settings
from rag.summarize.pipeline import Summary, summarize_article, summarize_topic

from .config import BotConfig, ChannelFilter

if TYPE_CHECKING:
    from rag.ingest.pipeline import IngestReport
    from rag.ingest.polling import PollReport
    from rag.models import Article, LoadFailure
    from rag.store.subscriptions import Feed

log = logging.getLogger(__name__)

Turn = tuple[str, str]  # (role "user" | "bot", text)

_HTTP_URL = re.compile(r"^https?://\S+$", re.I)
MAX_EVERY_MINUTES = 525_600  # a year, as `newsdesk feeds add --every`


class NotSubscribed(LookupError):
    """`/feeds remove` of a URL the guild's collection is not subscribed to."""


class _Fetched(Loader):
    """A Loader whose inputs were read already, so that `Ingestor.ingest` only writes: the slow
    part (fetching) happens before the write lock, which every collection of the data dir shares."""

    def __init__(self, loader: Loader, inputs: Iterable[str]):
        super().__init__(loader.settings, loader.fetcher)
        self._items = list(loader.load(inputs))

    def load(self, inputs: Iterable[str]) -> Iterator[Article | LoadFailure]:
        return iter(self._items)


def _runs_in_desk(factory: Callable[[Settings], Components] | None) -> bool:
    """Whether the components come from a `newsdesk run` desk (its `Desk.components`)."""
    run = sys.modules.get("rag.cli.run")  # imported already when a desk exists; never imported here
    return run is not None and isinstance(getattr(factory, "__self__", None), run.Desk)


class BotCore:
    """The core, one collection per guild (NEWSDESK_GUILD_COLLECTIONS, else `guild-<id>`),
    backends shared."""

    def __init__(self, settings: Settings, config: BotConfig,
                 components_factory: Callable[[Settings], Components] | None = None,
                 poll_feeds: bool | None = None):
        """`poll_feeds`: poll a collection's due feeds before its daily post (default: when the
        bot runs inside `newsdesk run`, whose desk makes the components)."""
        self.settings = settings
        self.config = config
        self._factory = components_factory
        self.polls_feeds = _runs_in_desk(components_factory) if poll_feeds is None else poll_feeds
        self._components: dict[str, Components] = {}
        self._lock = threading.Lock()

    def collection_for(self, guild_id: int | None) -> str:
        """The collection that answers this guild: its mapping, else the `*` one, else a
        collection of its own (`guild-<id>`). No guild (a DM) reads the default collection."""
        if not guild_id:
            return self.settings.collection
        mapped = self.config.guild_collections.get(guild_id)
        return mapped or self.config.shared_collection or f"guild-{guild_id}"

    def components(self, guild_id: int | None) -> Components:
        """Components of the guild's collection; the model and tokenizer are loaded once."""
        name = self.collection_for(guild_id)
        with self._lock:
            if name not in self._components:
                settings = self.settings.model_copy(update={"collection": name})
                if self._factory:
                    c = self._factory(settings)
                else:
                    shared = next(iter(self._components.values()), None)
                    c = Components(settings, share=shared) if shared else Components(settings)
                self._components[name] = c
            return self._components[name]

    def ask(self, guild_id: int | None, question: str, source: str | None = None,
            since: date | None = None, history: list[Turn] | None = None,
            on_token: Callable[[str], None] | None = None) -> Answer:
        """Answer a question (a follow-up is first made standalone from the thread's turns). With
        an LLM, `on_token` gets each piece of its text as it is written (in this thread); only the
        answer itself is streamed, not the follow-up's rewrite."""
        c = self.components(guild_id)
        standalone = self.standalone_question(c, question, history or [])
        answer = answer_question(c, standalone, filters=SearchFilters(source=source, since=since),
                                 on_token=on_token)
        if standalone != question:
            answer.question = question
            answer.warnings.insert(0, f"answered as: {standalone}")
        return answer

    def standalone_question(self, c: Components, question: str, history: list[Turn]) -> str:
        """A follow-up rewritten to stand alone: by the LLM when one is configured, otherwise
        the previous question is added as context (retrieval then finds the same articles)."""
        asked = [text for role, text in history if role == "user"]
        if not asked or self.config.history_turns == 0:
            return question
        if c.llm is not None:
            try:
                return self._condense_with_llm(c, question, history)
            except Exception as exc:  # any LLM failure: the heuristic below still works
                log.info("could not rewrite the follow-up with the LLM: %s", exc)
        return f"{question} (context: {asked[-1]})"

    def _condense_with_llm(self, c: Components, question: str, history: list[Turn]) -> str:
        assert c.llm is not None
        from rag.llm.passages import format_history

        turns = format_history(list(history[-self.config.history_turns:]))
        text = c.llm.run("condense_question.md", {"history": turns, "question": question}).splitlines()
        rewritten = text[0].strip() if text else ""
        # A rewrite is one question of reasonable length; anything else is not trusted.
        if not rewritten or len(rewritten) > 400 or "[" in rewritten:
            return f"{question} (context: {[t for r, t in history if r == 'user'][-1]})"
        return rewritten

    def summarize(self, guild_id: int | None, target: str) -> Summary:
        """An indexed article (id, URL or path) if `target` names one, else a topic."""
        from rag.search.articles import find_article

        c = self.components(guild_id)
        record = find_article(c, target.strip())  # AmbiguousArticle (a LookupError) says what to give
        if record is not None:
            return summarize_article(c, record)
        if re.match(r"https?://\S+$", target.strip()):
            # A link is not a topic: summarizing the index "about" a URL would say nothing useful.
            raise LookupError(f"{target.strip()} is not in the index yet: add it with /ingest first.")
        return summarize_topic(c, target)

    def briefing(self, guild_id: int | None, day: date, narrow: ChannelFilter | None = None) -> Briefing:
        """The briefing of one day for the guild's collection (saved ones are reused), or of its
        articles about a topic and/or from some outlets (a narrowed briefing channel's)."""
        if narrow:
            from rag.briefing.recent import narrowed_briefing

            return narrowed_briefing(self.components(guild_id), day, day, narrow.topic, narrow.sources)
        return make_briefing(self.components(guild_id), day, day)

    def news(self, guild_id: int | None, hours: int = 24, topic: str | None = None,
             now: datetime | None = None) -> Briefing:
        """A short briefing of what arrived in the guild's collection in the last `hours` (1..168),
        optionally about a topic."""
        from rag.briefing.recent import MAX_HOURS, recent_briefing

        if not 1 <= hours <= MAX_HOURS:
            raise ValueError(f"give 1 to {MAX_HOURS} hours")
        return recent_briefing(self.components(guild_id), hours, topic, now=now)

    def sources(self, guild_id: int | None) -> list[dict]:
        """Outlets in the guild's collection: article counts and newest published dates."""
        c = self.components(guild_id)
        if not c.registry_exists():
            return []
        return [{"source": s or "(outlet not named)", "articles": n, "oldest": lo, "newest": hi}
                for s, n, lo, hi in c.registry.sources()]

    def ingest(self, guild_id: int | None, url: str) -> IngestReport:
        """Ingest one URL (page or feed) into the guild's collection: fetched first, then written
        under the write lock (the bot runs one ingest per guild at a time)."""
        from rag.ingest.decoding import LoadError
        from rag.ingest.fetch import Fetcher
        from rag.ingest.guard import refuse_private_address
        from rag.ingest.pipeline import Ingestor

        url = url.strip()
        if not guild_id:
            raise LoadError("articles are added from a server, not a direct message")
        if not re.match(r"^https?://\S+$", url):
            raise LoadError("give an http(s) URL of an article or a feed")
        refuse_private_address(url)  # here too, so a refused link is told before anything runs
        c = self.components(guild_id)
        # Every request, redirects and a feed's item links included, must go to a public address.
        loader = Loader(c.settings, Fetcher(c.settings, url_guard=refuse_private_address))
        try:
            fetched = _Fetched(loader, [url])
        except BaseException:
            loader.fetcher.close()
            raise
        with c.writing():
            return Ingestor(c).ingest([url], fetched)

    # --- feed subscriptions -------------------------------------------------------------------

    def feeds_add(self, guild_id: int | None, url: str, every: int | None = None) -> tuple[Feed, bool]:
        """Subscribe the guild's collection to a feed (again: change its interval); the feed, and
        whether it is new. The URL must be http(s) and reach a public address, unless
        NEWSDESK_FEED_PRIVATE_ADDRESSES lets polls reach private ones too."""
        from rag.ingest.decoding import LoadError
        from rag.ingest.guard import refuse_private_address
        from rag.ingest.polling import open_subscriptions
        from rag.text.dates import utc_now

        url = url.strip()
        if not guild_id:
            raise LoadError("feeds are subscribed from a server, not a direct message")
        if not _HTTP_URL.match(url):
            raise LoadError("give the http(s) URL of an RSS, Atom or JSON feed")
        if every is not None and not 1 <= every <= MAX_EVERY_MINUTES:
            raise LoadError(f"poll every 1 to {MAX_EVERY_MINUTES} minutes")
        c = self.components(guild_id)
        if not c.settings.feed_private_addresses:
            refuse_private_address(url)  # polls would refuse it too: say so now
        subs = open_subscriptions(c)
        try:
            new = subs.get(url) is None
            feed = subs.add(url, utc_now(), every_minutes=every, default_every=c.settings.feed_every_minutes)
        finally:
            subs.close()
        return feed, new

    def feeds_list(self, guild_id: int | None) -> list[Feed]:
        """The guild's collection's subscriptions, oldest first (nothing is created to list none)."""
        from rag.ingest.polling import subscribed_feeds

        return subscribed_feeds(self.components(guild_id))

    def feeds_remove(self, guild_id: int | None, url: str) -> None:
        """Unsubscribe the guild's collection from a feed (its articles stay); NotSubscribed if it
        was not subscribed."""
        from rag.ingest.polling import unsubscribe

        url = url.strip()
        if not unsubscribe(self.components(guild_id), url):
            raise NotSubscribed(f"{url} is not subscribed in this server (see /feeds list)")

    def poll_feeds(self, guild_id: int | None) -> PollReport | None:
        """One pass over the due feeds of the guild's collection; None when it has none subscribed."""
        from rag.ingest.polling import poll

        if not self.feeds_list(guild_id):
            return None
        return poll(self.components(guild_id))

    def close(self) -> None:
        """Release open files."""
        for c in self._components.values():
            c.close()
