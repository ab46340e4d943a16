"""Streaming an LLM answer into a Discord reply, the way llmcord does: the text so far is shown as
a draft, edited in at a bounded rate, and one final edit puts the checked answer with its sources
in its place.

The core produces tokens in a worker thread; `AnswerStream.on_token` hands each one to the event
loop with `call_soon_threadsafe`, and all Discord calls happen on the loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from rag.briefing.markdown import defuse_links

from .format import DESCRIPTION_LIMIT, pack_embeds, split_text

log = logging.getLogger(__name__)

# Seconds between two edits of one reply. Discord allows about five message edits per five
# seconds per channel; one a second leaves room for the final edit and for other replies.
EDIT_INTERVAL = 1.0
DRAFT_MARK = " ▌"
DRAFT_FOOTER = "Writing… this draft is replaced by the checked answer with its sources."

Show = Callable[[list[discord.Embed]], Awaitable[object]]
Sleep = Callable[[float], Awaitable[object]]


class EditThrottle:
    """At most one edit per `interval` seconds, measured from when each edit was sent."""

    def __init__(self, interval: float = EDIT_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._last: float | None = None

    def wait_time(self) -> float:
        """Seconds until the next edit is allowed (0: now)."""
        if self._last is None:
            return 0.0
        return max(0.0, self._last + self.interval - self.clock())

    def mark(self) -> None:
        """Record that an edit is being sent now."""
        self._last = self.clock()


def _title(question: str) -> str:
    question = " ".join(question.split())
    return question if len(question) <= 256 else question[:255] + "…"


def draft_embeds(question: str, text: str) -> list[discord.Embed]:
    """The answer so far as the embeds of one message, marked as a draft; [] while it is blank.
    A draft longer than one message shows its first message's worth (the final answer has all)."""
    parts = split_text(defuse_links(text), DESCRIPTION_LIMIT - len(DRAFT_MARK))
    if not parts:
        return []
    colour = discord.Colour.blurple()
    embeds = [discord.Embed(title=_title(question) if i == 0 else None, description=part, colour=colour)
              for i, part in enumerate(parts)]
    embeds[-1].description = f"{parts[-1]}{DRAFT_MARK}"
    embeds[-1].set_footer(text=DRAFT_FOOTER)
    return pack_embeds(embeds)[0]


class AnswerStream:
    """Tokens from a worker thread shown in a reply at most once per throttle interval.

    `show(embeds)` puts embeds in the reply (the first call may send it, later calls edit it).
    Call `start()` before the core runs, `finish(embeds)` with the final answer's first message,
    or `stop()` to just end the previews.
    """

    def __init__(self, show: Show, question: str, *, throttle: EditThrottle | None = None,
                 sleep: Sleep = asyncio.sleep):
        self._loop = asyncio.get_running_loop()
        self._show = show
        self.question = question
        self.throttle = throttle or EditThrottle()
        self._sleep = sleep
        self._pieces: list[str] = []
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._editing = False
        self._closed = False
        self._shown_text: str | None = None
        self.shown = False  # the reply holds a draft, so the final answer must replace it
        self.edits = 0      # calls of `show`, drafts and the final one

    @property
    def text(self) -> str:
        """The LLM's text so far."""
        return "".join(self._pieces)

    def on_token(self, piece: str) -> None:
        """Take one piece of the LLM's text; safe to call from any thread."""
        try:
            self._loop.call_soon_threadsafe(self._add, piece)
        except RuntimeError:  # the loop is closed (the bot is stopping): nothing to show it in
            pass

    def _add(self, piece: str) -> None:
        if not self._closed:
            self._pieces.append(piece)
            self._changed.set()

    def start(self) -> None:
        """Begin showing drafts as tokens arrive."""
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name="newsdesk-answer-stream")

    async def _run(self) -> None:
        while not self._closed:
            await self._changed.wait()
            if delay := self.throttle.wait_time():
                await self._sleep(delay)
            self._changed.clear()
            await self._draft()

    async def _draft(self) -> None:
        text = self.text
        embeds = draft_embeds(self.question, text)
        if not embeds or text == self._shown_text:
            return
        self._editing = True
        try:
            await self._put(embeds)
            self._shown_text = text
        except Exception:  # a draft is a nicety: the final answer still comes
            log.warning("could not show the answer's draft", exc_info=True)
        finally:
            self._editing = False

    async def _put(self, embeds: list[discord.Embed]) -> None:
        self.throttle.mark()
        self.edits += 1
        await self._show(embeds)
        self.shown = True

    async def stop(self) -> None:
        """End the drafts: an edit under way is let finish, a pending one is dropped."""
        self._closed = True
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if not self._editing:  # waiting for a token or for the throttle: nothing in flight
            task.cancel()
        self._changed.set()
        await asyncio.wait([task])

    async def finish(self, embeds: list[discord.Embed]) -> bool:
        """Stop the drafts and put `embeds` in the draft's place, within the edit rate. False
        when no draft was shown: the caller then sends the answer as usual."""
        await self.stop()
        if not self.shown:
            return False
        if delay := self.throttle.wait_time():
            await self._sleep(delay)
        await self._put(embeds)
        return True
