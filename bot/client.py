"""The Discord front end: slash commands, mentions and threads, the daily briefing.

Thin over `BotCore`: every command defers at once (Discord allows 3 seconds), runs the core in a
worker thread, and sends embeds within Discord's limits. Reads (/ask, /summarize, briefings) and
writes (/ingest, /feeds) have worker pools of their own, and a guild runs one /ingest at a time,
so slow ingests never keep another server waiting; every interaction is answered before its
token expires (REPLY_DEADLINE_SECONDS), and any failure, a failed send included, is told. With an LLM, answers (to /ask and in
threads) stream: a draft is edited in about once a second, then replaced by the checked answer
(bot/streaming.py). Nothing the bot sends can ping anyone: the client's default and every send
and edit use `AllowedMentions.none()`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import discord
from discord import app_commands
from discord.ext import tasks

from rag.answer.pipeline import Answer
from rag.briefing.recent import MAX_HOURS
from rag.ingest.decoding import LoadError

from .caches import CONVERSATION_TTL, MAX_CONVERSATIONS, MAX_TURN_CHARS, Cooldowns, LRUCache
from .config import BotConfig
from .core import MAX_EVERY_MINUTES, BotCore, NotSubscribed, Turn
from .format import (
    answer_embeds,
    briefing_messages,
    feeds_embeds,
    fit_embed,
    ingest_reply,
    one_message,
    pack_embeds,
    sources_embed,
    split_text,
    subscribed_embed,
    summary_embeds,
)
from .state import PostedBriefings
from .streaming import EDIT_INTERVAL, AnswerStream, EditThrottle, Show

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
ERROR_TEXT = "Sorry, something went wrong while working on that. The details are in the bot's log."
FEEDS_REFUSED = "Only members with Manage Server (or an ingest role set by the bot's owner) can manage feeds."
# The daily post waits this long for the poll before it (a poll's feeds each have a time budget,
# NEWSDESK_FEED_POLL_BUDGET); past it the post goes out and the poll finishes on its own.
POLL_BEFORE_POST_SECONDS = 300.0
# An interaction's token can answer for 15 minutes. A core call still running after this long is
# no longer waited for: the user is told, with three minutes left for that message to go out.
REPLY_DEADLINE_SECONDS = 12 * 60.0
TOO_LONG_TEXT = "Sorry, that took too long and was given up on. Please try again later."
# Worker threads: reads answer while writes (an /ingest reading a slow server) are under way.
READ_WORKERS = 2
WRITE_WORKERS = 2
# A briefing posted as messages: its stories fit in a few; a cap keeps a broken one from flooding.
MAX_BRIEFING_MESSAGES = 10


class TookTooLong(TimeoutError):
    """A core call ran past the reply deadline (it carries on in its thread, unwaited for)."""


def make_intents() -> discord.Intents:
    """Default intents plus the two privileged ones the bot uses (enable both in the portal):
    message content (to read questions in mentions and threads) and members (role checks)."""
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    return intents


def parse_day(value: str | None) -> date | None:
    """A YYYY-MM-DD option; raises ValueError with a message for the user."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"“{value}” is not a date; use YYYY-MM-DD, e.g. 2024-06-20") from None


class NewsdeskBot(discord.Client):
    """The Newsdesk Discord bot."""

    def __init__(self, core: BotCore, config: BotConfig, *, sync_commands: bool = True,
                 clock: Callable[[], datetime] | None = None, workers: int = READ_WORKERS,
                 write_workers: int = WRITE_WORKERS):
        super().__init__(intents=make_intents(), allowed_mentions=NO_PINGS)
        self.core = core
        self.config = config
        self.tz = ZoneInfo(core.settings.timezone)
        self.clock = clock or (lambda: datetime.now(self.tz))
        self.sync_commands = sync_commands
        self.tree = app_commands.CommandTree(self)
        register_commands(self.tree, self)
        self.posted = PostedBriefings(core.settings.data_dir / "bot" / "briefings-posted.json")
        self.cooldowns: Cooldowns[tuple[int, str]] = Cooldowns()
        self.conversations: LRUCache[int, list[Turn]] = LRUCache(MAX_CONVERSATIONS, ttl=CONVERSATION_TTL)
        self.edit_interval = EDIT_INTERVAL  # seconds between edits of a streamed answer
        self.briefing_failures: dict[tuple[int, date], int] = {}  # today's only (post_due_briefings)
        self.reply_deadline = REPLY_DEADLINE_SECONDS
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="newsdesk-core")
        self.write_executor = ThreadPoolExecutor(max_workers=write_workers, thread_name_prefix="newsdesk-core-write")
        self.ingesting: dict[int, str] = {}  # guild id -> the URL of its /ingest still running

    # --- plumbing ----------------------------------------------------------------------------

    async def setup_hook(self) -> None:
        if self.sync_commands:
            await self.sync_slash_commands()
        if self.config.briefing_channels:
            self.daily_briefing.start()

    async def sync_slash_commands(self) -> None:
        """Per guild while developing (instant), globally otherwise (can take up to an hour)."""
        if self.config.dev_guilds:
            for gid in self.config.dev_guilds:
                guild = discord.Object(id=gid)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
            log.info("slash commands synced to guilds %s", self.config.dev_guilds)
        else:
            await self.tree.sync()
            log.info("slash commands synced globally")

    async def close(self) -> None:
        if self.daily_briefing.is_running():
            self.daily_briefing.cancel()
        await super().close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.write_executor.shutdown(wait=False, cancel_futures=True)

    async def run_core(self, fn: Callable, *args, **kwargs) -> Any:
        """Run a blocking core call that reads in a worker thread, keeping the event loop free;
        TookTooLong past the reply deadline."""
        return await self.wait_core(self.executor.submit(functools.partial(fn, *args, **kwargs)))

    async def run_write(self, fn: Callable, *args, **kwargs) -> Any:
        """`run_core` for a call that writes (feeds), in the write workers."""
        return await self.wait_core(self.write_executor.submit(functools.partial(fn, *args, **kwargs)))

    async def wait_core(self, future: Future) -> Any:
        """The result of a core call running in a worker thread, waited for until the reply
        deadline (TookTooLong then; the call itself carries on)."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.reply_deadline)
        except TimeoutError:
            raise TookTooLong(f"no result after {self.reply_deadline:g} s") from None

    async def guarded(self, what: str, interaction: discord.Interaction, handler: Awaitable[None]) -> None:
        """Run a command's handler; anything it raises (a send Discord refused included) is
        logged and the user told, so no interaction is left "thinking"."""
        try:
            await handler
        except Exception:
            await self._fail(interaction, what)

    def cooldown_left(self, user_id: int, action: str) -> float:
        """Seconds the user must still wait before `action`; 0 starts a new cooldown."""
        return self.cooldowns.wait_left((user_id, action), self.config.cooldown)

    def answer_stream(self, show: Show, question: str) -> AnswerStream:
        """A started stream that shows an answer's draft through `show` at the bot's edit rate."""
        stream = AnswerStream(show, question, throttle=EditThrottle(self.edit_interval))
        stream.start()
        return stream

    async def ask_streamed(self, stream: AnswerStream, guild_id: int | None, question: str,
                           source: str | None = None, since: date | None = None,
                           history: list[Turn] | None = None) -> Answer:
        """`BotCore.ask` in a worker thread, its tokens fed to `stream`; on failure the drafts
        stop (the caller says what went wrong)."""
        try:
            return await self.run_core(self.core.ask, guild_id, question, source, since, history,
                                       on_token=stream.on_token)
        except BaseException:
            await stream.stop()
            raise

    async def deliver_answer(self, stream: AnswerStream, send: Callable, answer: Answer) -> None:
        """The answer's embeds, exactly as without streaming: the first message's in place of the
        draft when one was shown, the rest (or all) sent."""
        groups = pack_embeds(answer_embeds(answer))
        try:
            replaced = await stream.finish(groups[0])
        except discord.HTTPException:  # the draft stays; the answer still comes, in new messages
            log.warning("could not put the answer in place of its draft", exc_info=True)
            replaced = False
        if replaced:
            groups = groups[1:]
        for group in groups:
            await send(embeds=group, allowed_mentions=NO_PINGS)

    @staticmethod
    async def replace_draft_with_error(stream: AnswerStream) -> bool:
        """After a failure: a shown draft becomes the error message (True), so no half answer stays."""
        if not stream.shown:
            return False
        try:
            return await stream.finish([discord.Embed(description=ERROR_TEXT, colour=discord.Colour.light_grey())])
        except Exception:  # the caller then says it in a new message
            log.warning("could not replace the draft with the error message", exc_info=True)
            return False

    def may_ingest(self, member: discord.abc.User, permissions: discord.Permissions | None) -> bool:
        """Manage Server, or one of NEWSDESK_INGEST_ROLES (by id or name)."""
        if permissions is not None and (permissions.manage_guild or permissions.administrator):
            return True
        roles = getattr(member, "roles", [])
        allowed = {r.lower() for r in self.config.ingest_roles}
        return any(str(role.id) in allowed or role.name.lower() in allowed for role in roles)

    @staticmethod
    async def send_embeds(send: Callable, embeds: list[discord.Embed]) -> None:
        for group in pack_embeds(embeds):
            await send(embeds=group, allowed_mentions=NO_PINGS)

    async def _refuse(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(one_message(text), ephemeral=True, allowed_mentions=NO_PINGS)

    async def _fail(self, interaction: discord.Interaction, what: str) -> None:
        """Log the exception being handled and tell the user, briefly; a send that fails too is
        only logged (nothing more can reach the user)."""
        too_long = isinstance(sys.exception(), TookTooLong)
        if too_long:
            log.warning("%s took too long (guild %s, user %s)", what, interaction.guild_id, interaction.user.id)
        else:
            log.exception("%s failed (guild %s, user %s)", what, interaction.guild_id, interaction.user.id)
        text = TOO_LONG_TEXT if too_long else ERROR_TEXT
        try:
            if interaction.response.is_done():
                await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS)
            else:
                await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_PINGS)
        except Exception:
            log.warning("could not tell the user that %s failed", what, exc_info=True)

    # --- slash commands -------------------------------------------------------------------------

    async def handle_ask(self, interaction: discord.Interaction, question: str, source: str | None = None,
                         since: str | None = None) -> None:
        try:
            since_day = parse_day(since)
        except ValueError as exc:
            return await self._refuse(interaction, str(exc))
        if not question.strip():
            return await self._refuse(interaction, "Ask a question, e.g. /ask Where did Putin and Kim meet?")
        if wait := self.cooldown_left(interaction.user.id, "ask"):
            return await self._refuse(interaction, f"Please wait {wait:.0f} s before asking again.")
        await interaction.response.defer(thinking=True)

        async def show(embeds: list[discord.Embed]) -> None:  # the deferred "thinking" reply becomes the draft
            await interaction.edit_original_response(embeds=embeds, allowed_mentions=NO_PINGS)

        stream = self.answer_stream(show, question)
        try:
            answer = await self.ask_streamed(stream, interaction.guild_id, question, source, since_day)
        except Exception:
            if await self.replace_draft_with_error(stream):
                log.exception("/ask failed (guild %s, user %s)", interaction.guild_id, interaction.user.id)
                return
            return await self._fail(interaction, "/ask")
        await self.deliver_answer(stream, interaction.followup.send, answer)

    async def handle_summarize(self, interaction: discord.Interaction, target: str) -> None:
        if not target.strip():
            return await self._refuse(interaction, "Give an article (id or URL) or a topic to summarize.")
        if wait := self.cooldown_left(interaction.user.id, "summarize"):
            return await self._refuse(interaction, f"Please wait {wait:.0f} s before summarizing again.")
        await interaction.response.defer(thinking=True)
        try:
            summary = await self.run_core(self.core.summarize, interaction.guild_id, target)
        except LookupError as exc:  # several articles match, or a link not indexed yet: the message says what to do
            return await interaction.followup.send(one_message(str(exc)), ephemeral=True, allowed_mentions=NO_PINGS)
        except Exception:
            return await self._fail(interaction, "/summarize")
        await self.send_embeds(interaction.followup.send, summary_embeds(summary))

    async def handle_briefing(self, interaction: discord.Interaction, day: str | None = None) -> None:
        try:
            when = parse_day(day) or self.clock().date()
        except ValueError as exc:
            return await self._refuse(interaction, str(exc))
        await interaction.response.defer(thinking=True)
        try:
            b = await self.run_core(self.core.briefing, interaction.guild_id, when)
        except Exception:
            return await self._fail(interaction, "/briefing")
        await self.send_briefing(interaction.followup.send, b.markdown)

    @staticmethod
    async def send_briefing(send: Callable, markdown: str) -> None:
        """A briefing as messages, at most MAX_BRIEFING_MESSAGES (the last says what is left out)."""
        parts = briefing_messages(markdown)
        if len(parts) > MAX_BRIEFING_MESSAGES:
            parts = parts[:MAX_BRIEFING_MESSAGES - 1] + [
                f"… and {len(parts) - MAX_BRIEFING_MESSAGES + 1} more messages of this briefing: see "
                "`newsdesk briefing` for all of it."]
        for part in parts:
            await send(part, allowed_mentions=NO_PINGS)

    async def handle_sources(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        try:
            rows = await self.run_core(self.core.sources, interaction.guild_id)
        except Exception:
            return await self._fail(interaction, "/sources")
        await interaction.followup.send(embeds=[sources_embed(rows)], allowed_mentions=NO_PINGS)

    async def handle_ingest(self, interaction: discord.Interaction, url: str) -> None:
        if not self.may_ingest(interaction.user, interaction.permissions):
            return await self._refuse(interaction, "Only members with Manage Server (or an ingest role set by "
                                                   "the bot's owner) can add articles.")
        if not re.match(r"^https?://\S+$", url.strip()):
            return await self._refuse(interaction, "Give an http(s) URL of an article or a feed.")
        guild = interaction.guild_id or 0
        if (running := self.ingesting.get(guild)) is not None:
            return await self._refuse(interaction, f"This server's /ingest of {running} is still running; "
                                                   "try again when it is done.")
        await interaction.response.defer(thinking=True)
        try:
            report = await self.wait_core(self._start_ingest(guild, url.strip()))
        except LoadError as exc:  # a refused URL: say why
            return await interaction.followup.send(one_message(f"Cannot ingest {url}: {exc}"), ephemeral=True,
                                                   allowed_mentions=NO_PINGS)
        except TookTooLong:
            minutes = self.reply_deadline / 60
            return await interaction.followup.send(one_message(
                f"Still working on {url} after {minutes:.3g} minutes: it carries on, and its articles show in "
                "/sources when it is done."), allowed_mentions=NO_PINGS)
        except Exception:
            return await self._fail(interaction, "/ingest")
        await interaction.followup.send(ingest_reply(url, report), allowed_mentions=NO_PINGS)

    def _start_ingest(self, guild: int, url: str) -> Future:
        """The guild's /ingest, started in a write worker; the guild is busy until it ends (not
        when the reply deadline stops the waiting)."""
        loop = asyncio.get_running_loop()
        future = self.write_executor.submit(self.core.ingest, guild or None, url)
        self.ingesting[guild] = url

        def done(_: Future) -> None:  # in the worker thread; the dict is the loop's
            try:
                loop.call_soon_threadsafe(self.ingesting.pop, guild, None)
            except RuntimeError:  # the loop is closed: nothing else reads the dict any more
                self.ingesting.pop(guild, None)

        future.add_done_callback(done)
        return future

    async def handle_news(self, interaction: discord.Interaction, topic: str | None = None, hours: int = 24) -> None:
        if not 1 <= hours <= MAX_HOURS:
            return await self._refuse(interaction, f"Give 1 to {MAX_HOURS} hours (a week at most).")
        if wait := self.cooldown_left(interaction.user.id, "news"):
            return await self._refuse(interaction, f"Please wait {wait:.0f} s before asking for the news again.")
        await interaction.response.defer(thinking=True)
        try:
            b = await self.run_core(self.core.news, interaction.guild_id, hours, topic or None, self.clock())
        except Exception:
            return await self._fail(interaction, "/news")
        await self.send_briefing(interaction.followup.send, b.markdown)

    # --- /feeds -----------------------------------------------------------------------------------

    async def handle_feeds_add(self, interaction: discord.Interaction, url: str, every: int | None = None) -> None:
        if not self.may_ingest(interaction.user, interaction.permissions):
            return await self._refuse(interaction, FEEDS_REFUSED)
        url = url.strip()
        if not re.match(r"^https?://\S+$", url, re.I):
            return await self._refuse(interaction, "Give the http(s) URL of an RSS, Atom or JSON feed.")
        await interaction.response.defer(thinking=True)
        try:
            feed, new = await self.run_write(self.core.feeds_add, interaction.guild_id, url, every)
        except LoadError as exc:  # a refused URL: say why
            return await interaction.followup.send(one_message(f"Cannot subscribe to {url}: {exc}"), ephemeral=True,
                                                   allowed_mentions=NO_PINGS)
        except Exception:
            return await self._fail(interaction, "/feeds add")
        await interaction.followup.send(embeds=[subscribed_embed(feed, new)], allowed_mentions=NO_PINGS)

    async def handle_feeds_list(self, interaction: discord.Interaction) -> None:
        if not self.may_ingest(interaction.user, interaction.permissions):
            return await self._refuse(interaction, FEEDS_REFUSED)
        await interaction.response.defer(thinking=True)
        try:
            found = await self.run_core(self.core.feeds_list, interaction.guild_id)
        except Exception:
            return await self._fail(interaction, "/feeds list")
        await self.send_embeds(interaction.followup.send, feeds_embeds(found, "This server's feeds"))

    async def handle_feeds_remove(self, interaction: discord.Interaction, url: str) -> None:
        if not self.may_ingest(interaction.user, interaction.permissions):
            return await self._refuse(interaction, FEEDS_REFUSED)
        url = url.strip()
        await interaction.response.defer(thinking=True)
        try:
            await self.run_write(self.core.feeds_remove, interaction.guild_id, url)
        except NotSubscribed as exc:
            return await interaction.followup.send(one_message(str(exc)), ephemeral=True, allowed_mentions=NO_PINGS)
        except Exception:
            return await self._fail(interaction, "/feeds remove")
        embed = discord.Embed(title=f"Unsubscribed from {url}", colour=discord.Colour.light_grey(),
                              description="Its articles already indexed stay.")
        await interaction.followup.send(embeds=[fit_embed(embed)], allowed_mentions=NO_PINGS)

    # --- mentions and threads -------------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        try:
            await self.handle_message(message)
        except Exception:  # a failed send or thread: logged; the event loop carries on
            log.exception("answering a message failed (guild %s)", message.guild and message.guild.id)

    async def handle_message(self, message: discord.Message) -> None:
        """A mention or a question in one of the bot's threads: answered in a thread."""
        if message.author.bot or message.guild is None or self.user is None:
            return
        channel = message.channel
        in_our_thread = isinstance(channel, discord.Thread) and channel.owner_id == self.user.id
        mentioned = self.user in message.mentions
        if not (in_our_thread or mentioned):
            return
        question = re.sub(rf"<@!?{self.user.id}>", " ", message.content).strip()
        if not question:
            await channel.send("Ask me a question about the news, e.g. “@Newsdesk what did Iran supply to "
                               "Russia?”", allowed_mentions=NO_PINGS)
            return
        if wait := self.cooldown_left(message.author.id, "ask"):
            await channel.send(f"Please wait {wait:.0f} s before asking again.", allowed_mentions=NO_PINGS)
            return
        history: list[Turn] = []
        target: discord.abc.Messageable
        if isinstance(channel, discord.Thread):
            target = channel
            history = await self._history(channel, before=message)
        else:
            try:
                target = await message.create_thread(name=split_text(question, 90)[0][:90])
            except (discord.HTTPException, AttributeError):  # no thread permission: answer in place
                target = channel
        answer = await self._answer_in(target, message.guild.id, question, history)
        if answer is not None and isinstance(target, discord.Thread):
            self.remember_turns(target.id, history, question, answer.answer)

    def remember_turns(self, thread_id: int, history: list[Turn], question: str, answer: str) -> None:
        """Add a question and its answer to the thread's remembered turns: the last
        2 x history_turns, each at most MAX_TURN_CHARS."""
        turns = self.conversations.setdefault(thread_id, history)
        turns += [("user", question[:MAX_TURN_CHARS]), ("bot", answer[:MAX_TURN_CHARS])]
        del turns[:-2 * self.config.history_turns or len(turns)]

    async def _answer_in(self, target: discord.abc.Messageable, guild_id: int, question: str,
                         history: list[Turn]) -> Answer | None:
        """Answer in a thread or channel, streaming the draft into the reply; None on failure
        (logged, and said in the channel)."""
        reply: discord.Message | None = None

        async def show(embeds: list[discord.Embed]) -> None:  # the first draft is sent, the rest edit it
            nonlocal reply
            if reply is None:
                reply = await target.send(embeds=embeds, allowed_mentions=NO_PINGS)
            else:
                await reply.edit(embeds=embeds, allowed_mentions=NO_PINGS)

        stream = self.answer_stream(show, question)
        try:
            async with target.typing():
                answer = await self.ask_streamed(stream, guild_id, question, None, None, history)
        except Exception:
            log.exception("answering a mention failed (guild %s)", guild_id)
            if not await self.replace_draft_with_error(stream):
                await target.send(ERROR_TEXT, allowed_mentions=NO_PINGS)
            return None
        await self.deliver_answer(stream, target.send, answer)
        return answer

    async def _history(self, channel: discord.abc.Messageable, before: discord.Message) -> list[Turn]:
        """Earlier turns of a thread: remembered, or (after a restart) read back from Discord."""
        if not isinstance(channel, discord.Thread) or self.user is None:
            return []
        if channel.id in self.conversations:
            return list(self.conversations[channel.id])
        me = self.user.id
        turns: list[Turn] = []
        try:
            async for m in channel.history(limit=2 * self.config.history_turns, before=before):
                text = m.content or (m.embeds[0].description if m.embeds else "") or ""
                role = "bot" if m.author.id == me else "user"
                text = re.sub(rf"<@!?{me}>", " ", text).strip()
                if text:
                    turns.append((role, text))
        except Exception:  # history is a nicety: without it the question is answered as it stands
            log.warning("could not read the history of thread %s", channel.id, exc_info=True)
            return []
        return list(reversed(turns))

    # --- the daily briefing ----------------------------------------------------------------------

    @tasks.loop(minutes=1)
    async def daily_briefing(self) -> None:
        await self.post_due_briefings()

    @daily_briefing.before_loop
    async def _before_daily_briefing(self) -> None:
        await self.wait_until_ready()

    async def post_due_briefings(self, now: datetime | None = None) -> list[int]:
        """Post the briefing to every configured channel that has not had today's yet and whose
        time has come; remembered on disk, so a restart never posts twice. Returns the channels
        posted to."""
        now = now or self.clock()
        if now.time() < self.config.briefing_time:
            return []
        day = now.date() - timedelta(days=1) if self.config.briefing_day == "previous" else now.date()
        for key in [k for k in self.briefing_failures if k[1] != now.date()]:  # tomorrow starts afresh
            del self.briefing_failures[key]
        done = []
        polled: set[str] = set()  # collections polled in this round: once each
        for cid in self.config.briefing_channels:
            if self.posted.last_posted(cid) == now.date():
                continue
            tries = self.briefing_failures.get((cid, now.date()), 0)
            if tries >= 3:  # failing every minute helps no one; tomorrow starts afresh
                continue
            try:
                await self._post_briefing(cid, day, polled)
            except Exception:
                self.briefing_failures[(cid, now.date())] = tries + 1
                log.exception("could not post the daily briefing to channel %s (try %d of 3 today)", cid, tries + 1)
                continue
            self.posted.mark_posted(cid, now.date())
            done.append(cid)
        return done

    async def _post_briefing(self, cid: int, day: date, polled: set[str]) -> None:
        """Post the day's briefing (narrowed as the channel's filter says) to one channel, after
        polling its collection's due feeds when the bot runs inside `newsdesk run`."""
        # A briefing channel is a text channel (or a thread): both have a guild and send().
        channel = cast(discord.TextChannel, self.get_channel(cid) or await self.fetch_channel(cid))
        collection = self.core.collection_for(channel.guild.id)
        if self.core.polls_feeds and collection not in polled:
            polled.add(collection)
            await self.poll_before_briefing(channel.guild.id)
        narrow = self.config.briefing_filters.get(cid)
        b = await self.run_core(self.core.briefing, channel.guild.id, day, narrow)
        await self.send_briefing(channel.send, b.markdown)

    async def poll_before_briefing(self, guild_id: int) -> None:
        """Poll the due feeds of the guild's collection once, in a worker thread, so the daily post
        has that morning's articles; a failure, or a poll still running after
        POLL_BEFORE_POST_SECONDS, is logged and the post goes out all the same."""
        try:
            report = await asyncio.wait_for(asyncio.to_thread(self.core.poll_feeds, guild_id),
                                            POLL_BEFORE_POST_SECONDS)
        except TimeoutError:
            log.warning("the feeds of guild %s were still polling after %g s; posting the briefing without "
                        "waiting", guild_id, POLL_BEFORE_POST_SECONDS)
            return
        except Exception:
            log.exception("polling the feeds of guild %s before its daily briefing failed", guild_id)
            return
        if report is not None:
            log.info("polled %d feeds of guild %s before its daily briefing: %d new articles",
                     len(report.feeds), guild_id, report.added)


def register_commands(tree: app_commands.CommandTree, bot: NewsdeskBot) -> None:
    """The slash commands, each a thin wrapper over a handler of `bot`."""

    @tree.command(name="ask", description="Ask a question; the answer cites the news articles it comes from.")
    @app_commands.describe(question="Your question about the news",
                           source="Only articles from this outlet (e.g. cnn.com)",
                           since="Only articles published on or after this date (YYYY-MM-DD)")
    @app_commands.guild_only()
    async def ask(interaction: discord.Interaction, question: app_commands.Range[str, 1, 500],
                  source: str | None = None, since: str | None = None) -> None:
        await bot.guarded("/ask", interaction, bot.handle_ask(interaction, question, source, since))

    @tree.command(name="summarize", description="Summarize an indexed article (id or URL) or a topic, with sources.")
    @app_commands.describe(target="An article id or URL from /sources or an answer, or any topic")
    @app_commands.guild_only()
    async def summarize(interaction: discord.Interaction, target: app_commands.Range[str, 1, 500]) -> None:
        await bot.guarded("/summarize", interaction, bot.handle_summarize(interaction, target))

    @tree.command(name="briefing", description="The day's news grouped into stories, each summarized with sources.")
    @app_commands.describe(date="The day (YYYY-MM-DD); default: today")
    @app_commands.guild_only()
    async def briefing(interaction: discord.Interaction, date: str | None = None) -> None:
        await bot.guarded("/briefing", interaction, bot.handle_briefing(interaction, date))

    @tree.command(name="news", description="A short briefing of what arrived in the last hours (default 24).")
    @app_commands.describe(topic="Only news about this topic", hours=f"How many hours back (1-{MAX_HOURS}; default 24)")
    @app_commands.guild_only()
    async def news(interaction: discord.Interaction, topic: app_commands.Range[str, 1, 200] | None = None,
                   hours: app_commands.Range[int, 1, MAX_HOURS] = 24) -> None:
        await bot.guarded("/news", interaction, bot.handle_news(interaction, topic, hours))

    @tree.command(name="sources", description="What is indexed: outlets, article counts and newest dates.")
    @app_commands.guild_only()
    async def sources(interaction: discord.Interaction) -> None:
        await bot.guarded("/sources", interaction, bot.handle_sources(interaction))

    @tree.command(name="ingest", description="Add an article or feed by URL to this server's collection "
                                             "(Manage Server or an ingest role).")
    @app_commands.describe(url="The http(s) URL of a news article or an RSS/Atom feed")
    @app_commands.guild_only()
    async def ingest(interaction: discord.Interaction, url: str) -> None:
        await bot.guarded("/ingest", interaction, bot.handle_ingest(interaction, url))

    tree.add_command(feeds_group(bot))


def feeds_group(bot: NewsdeskBot) -> app_commands.Group:
    """/feeds add | list | remove: the server's feed subscriptions (Manage Server or an ingest role)."""
    feeds = app_commands.Group(name="feeds", guild_only=True,
                               description="Feed subscriptions of this server (Manage Server or an ingest role).")
    default_every = bot.core.settings.feed_every_minutes

    @feeds.command(name="add", description="Subscribe to an RSS/Atom/JSON feed; its new articles are indexed.")
    @app_commands.describe(url="The http(s) URL of the feed",
                           every=f"Poll every this many minutes (default {default_every})")
    async def add(interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000],
                  every: app_commands.Range[int, 1, MAX_EVERY_MINUTES] | None = None) -> None:
        await bot.guarded("/feeds add", interaction, bot.handle_feeds_add(interaction, url, every))

    @feeds.command(name="list", description="The subscribed feeds: interval, status, last and next poll.")
    async def list_feeds(interaction: discord.Interaction) -> None:
        await bot.guarded("/feeds list", interaction, bot.handle_feeds_list(interaction))

    @feeds.command(name="remove", description="Unsubscribe from a feed (its articles stay indexed).")
    @app_commands.describe(url="The feed's URL, as /feeds list shows it")
    async def remove(interaction: discord.Interaction, url: app_commands.Range[str, 1, 2000]) -> None:
        await bot.guarded("/feeds remove", interaction, bot.handle_feeds_remove(interaction, url))

    return feeds


def command_specs(bot: NewsdeskBot) -> list[dict]:
    """The slash commands as registered, for `newsdesk bot --check`."""
    out = []
    for cmd in bot.tree.get_commands():
        d = cmd.to_dict(bot.tree)
        out.append({"name": d["name"], "description": d["description"], "options": _option_specs(d)})
    return out


def _option_specs(d: dict) -> list[dict]:
    """A command's options; a subcommand's carry their own options."""
    out = []
    for o in d.get("options", []):
        kind = discord.AppCommandOptionType(o["type"])
        spec = {"name": o["name"], "description": o["description"], "type": kind.name,
                "required": o.get("required", False)}
        if kind in (discord.AppCommandOptionType.subcommand, discord.AppCommandOptionType.subcommand_group):
            spec["options"] = _option_specs(o)
        out.append(spec)
    return out
