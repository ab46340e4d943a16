"""The Discord bot, with no network: slash command callbacks with a stand-in interaction that
records what was sent; mentions and threads through dpytest (discord.py's own objects); the
daily briefing across a restart; `newsdesk bot --check`. The core underneath is real (embedded
Chroma, the packaged model)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import datetime
from types import SimpleNamespace

import discord
import pytest
from helpers import run_ingest, with_llm, write_article

from bot.caches import MAX_CONVERSATIONS, Cooldowns, LRUCache
from bot.client import ERROR_TEXT, NO_PINGS, NewsdeskBot, command_specs
from bot.config import BotConfig, BotConfigError, load_bot_config
from bot.core import BotCore
from bot.format import (
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELDS_LIMIT,
    MESSAGE_LIMIT,
    answer_embeds,
    briefing_messages,
    pack_embeds,
    split_text,
)
from bot.streaming import DRAFT_MARK, AnswerStream, EditThrottle

TOKEN = "MTAxMjM0NTY3ODkwMTIzNDU2Nzg5.GaBcDe.abcdefghijklmnopqrstuvwxyz012345"
GUILD_A, GUILD_B = 111, 222


@pytest.fixture(scope="module")
def core(tmp_path_factory, embedder, tokenizer):
    """A BotCore whose two guilds map to two collections: A knows the bridge, B the budget."""
    from rag.components import Components
    from rag.settings import Settings

    root = tmp_path_factory.mktemp("bot")
    settings = Settings(_env_file=None, data_dir=root / "data", llm="none")
    config = BotConfig(token=TOKEN, guild_collections={GUILD_A: "alpha", GUILD_B: "beta"}, cooldown=30.0,
                       briefing_channels=[999])
    c = BotCore(settings, config, lambda s: Components(s, embedder=embedder, tokenizer=tokenizer))
    write_article(root / "a", "bridge.md", "Ship strikes Harlow Street bridge",
                  "A container ship struck the Harlow Street bridge early on Tuesday. Fourteen people were "
                  "injured, most of them workers on a night maintenance crew. Mayor Ellen Ruiz said the bridge "
                  "would stay closed for at least three weeks while engineers inspect the central pier. "
                  "Some posts online urged @everyone to avoid the area.",
                  outlet="Coastal Times", date="2026-03-03", url="https://coastal.example/bridge")
    write_article(root / "b", "budget.md", "Council approves school budget",
                  "The city council approved a school budget of 412 million dollars on Monday night. The plan "
                  "raises starting salaries for teachers by six percent and funds forty new classroom aides. "
                  "Council members voted seven to two in favour.",
                  outlet="Bay Herald", date="2026-03-03", url="https://bay.example/budget")
    run_ingest(c.components(GUILD_A), [root / "a"])
    run_ingest(c.components(GUILD_B), [root / "b"])
    yield c
    c.close()


class Recorder:
    """Stand-in for an Interaction's `response` and `followup`: records each call in order."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self._done = False

    def is_done(self) -> bool:
        return self._done

    async def defer(self, **kwargs):
        self._done = True
        self.calls.append(("defer", kwargs))

    async def send_message(self, content=None, **kwargs):
        self._done = True
        self.calls.append(("send_message", {"content": content, **kwargs}))

    async def send(self, content=None, **kwargs):
        self.calls.append(("followup", {"content": content, **kwargs}))

    async def edit_original_response(self, **kwargs):
        self.calls.append(("edit", {**kwargs, "at": time.monotonic()}))


def interaction(guild_id=GUILD_A, user_id=1, manage_guild=False, roles=()):
    rec = Recorder()
    user = SimpleNamespace(id=user_id, roles=[SimpleNamespace(id=900 + i, name=r) for i, r in enumerate(roles)])
    return SimpleNamespace(response=rec, followup=rec, guild_id=guild_id, user=user,
                           edit_original_response=rec.edit_original_response,
                           permissions=discord.Permissions(manage_guild=manage_guild)), rec


def make_bot(core, **config_changes) -> NewsdeskBot:
    config = BotConfig(**{**core.config.__dict__, **config_changes})
    core.config = config
    return NewsdeskBot(core, config, sync_commands=False)


def run(coro):
    return asyncio.run(coro)


def sent_embeds(rec: Recorder) -> list[discord.Embed]:
    return [e for name, kw in rec.calls if name == "followup" for e in kw.get("embeds") or []]


@pytest.mark.model  # which sentence answers "how many were injured" needs the model's semantics
def test_ask_defers_first_runs_off_the_loop_and_sends_cited_embeds(core):
    bot = make_bot(core, cooldown=0)
    seen = {}
    real_ask = core.ask

    def spying_ask(*args, **kwargs):
        seen["thread"] = threading.current_thread().name
        seen["deferred_before"] = [name for name, _ in rec.calls]
        return real_ask(*args, **kwargs)

    core.ask = spying_ask
    try:
        inter, rec = interaction()
        run(bot.tree.get_command("ask").callback(inter, question="How many people were injured at the bridge?"))
    finally:
        core.ask = real_ask
    assert rec.calls[0] == ("defer", {"thinking": True})
    assert seen["deferred_before"] == ["defer"], "the core ran before the interaction was deferred"
    assert seen["thread"].startswith("newsdesk-core"), "the core ran on the event loop"
    embeds = sent_embeds(rec)
    assert embeds and "[1]" in embeds[0].description and "Fourteen" in embeds[0].description
    field = embeds[0].fields[0]
    assert "Coastal Times" in field.name and "https://coastal.example/bridge" in field.value
    assert all(kw.get("allowed_mentions") is NO_PINGS for name, kw in rec.calls if name != "defer")


def test_unanswerable_is_shown_plainly(core):
    bot = make_bot(core, cooldown=0)
    inter, rec = interaction()
    run(bot.tree.get_command("ask").callback(inter, question="What is the best recipe for banana bread?"))
    (embed,) = sent_embeds(rec)
    assert embed.description == "The indexed articles do not cover this question." and not embed.fields


def test_guilds_never_see_each_others_articles(core):
    bot = make_bot(core, cooldown=0)
    question = "How much is the school budget the council approved?"
    inter, rec_b = interaction(guild_id=GUILD_B)
    run(bot.tree.get_command("ask").callback(inter, question=question))
    assert "412 million" in sent_embeds(rec_b)[0].description
    inter, rec_a = interaction(guild_id=GUILD_A)
    run(bot.tree.get_command("ask").callback(inter, question=question))
    leaked = " ".join((e.description or "") + " ".join(f.value for f in e.fields) for e in sent_embeds(rec_a))
    assert "412" not in leaked and "Bay Herald" not in leaked
    # /sources and /briefing too: each guild sees its own collection only.
    inter, rec = interaction(guild_id=GUILD_A)
    run(bot.tree.get_command("sources").callback(inter))
    names = [f.name for e in sent_embeds(rec) for f in e.fields]
    assert names == ["Coastal Times"]
    inter, rec = interaction(guild_id=GUILD_B)
    run(bot.tree.get_command("briefing").callback(inter, date="2026-03-03"))
    text = "\n".join(kw["content"] for name, kw in rec.calls if name == "followup")
    assert "Council approves school budget" in text and "Harlow" not in text


def test_cooldown_per_user(core):
    bot = make_bot(core, cooldown=30)
    inter, rec = interaction(user_id=7)
    run(bot.tree.get_command("ask").callback(inter, question="Who is the mayor?"))
    inter2, rec2 = interaction(user_id=7)
    run(bot.tree.get_command("ask").callback(inter2, question="Who is the mayor?"))
    name, kw = rec2.calls[0]
    assert name == "send_message" and kw["ephemeral"] and "wait" in kw["content"]
    assert not any(n == "defer" for n, _ in rec2.calls)
    inter3, rec3 = interaction(user_id=8)  # another user is not held up
    run(bot.tree.get_command("ask").callback(inter3, question="Who is the mayor?"))
    assert rec3.calls[0][0] == "defer"


def test_ingest_needs_manage_server_or_a_role(core):
    bot = make_bot(core, ingest_roles=["editors"])
    inter, rec = interaction()
    run(bot.tree.get_command("ingest").callback(inter, url="http://127.0.0.1:9/story"))
    name, kw = rec.calls[0]
    assert name == "send_message" and kw["ephemeral"] and "Manage Server" in kw["content"]
    for kwargs in ({"manage_guild": True}, {"roles": ["Editors"]}):
        inter, rec = interaction(**kwargs)
        run(bot.tree.get_command("ingest").callback(inter, url="http://127.0.0.1:9/story"))
        assert rec.calls[0][0] == "defer"
        reply = rec.calls[-1][1]["content"]
        # Allowed to ingest, but never the bot host's own network (cloud metadata, local services).
        assert reply.startswith("Cannot ingest http://127.0.0.1:9/story: 127.0.0.1 is a private or local address")
    for url in ("http://169.254.169.254/latest/meta-data", "http://10.0.0.5/admin", "http://localhost:8000/"):
        inter, rec = interaction(manage_guild=True)
        run(bot.tree.get_command("ingest").callback(inter, url=url))
        assert "private or local address" in rec.calls[-1][1]["content"], url


def test_bad_options_get_a_short_message_not_an_error(core):
    bot = make_bot(core, cooldown=0)
    inter, rec = interaction()
    run(bot.tree.get_command("ask").callback(inter, question="Who?", since="last week"))
    assert rec.calls == [("send_message", {"content": "“last week” is not a date; use YYYY-MM-DD, e.g. 2024-06-20",
                                           "ephemeral": True, "allowed_mentions": NO_PINGS})]


def test_summarize_of_a_link_not_in_the_index_says_to_ingest_it(core):
    bot = make_bot(core, cooldown=0)
    inter, rec = interaction()
    run(bot.tree.get_command("summarize").callback(inter, target="https://elsewhere.example/story"))
    assert rec.calls[0][0] == "defer"
    reply = rec.calls[-1][1]
    assert "not in the index yet" in reply["content"] and "/ingest" in reply["content"]
    assert reply["ephemeral"] is True
    # The link of an indexed article is still summarized, citing only that article.
    inter, rec = interaction()
    run(bot.tree.get_command("summarize").callback(inter, target="https://coastal.example/bridge"))
    assert any("Harlow Street" in (e.description or "") for e in sent_embeds(rec))


def test_core_failure_is_logged_and_shown_briefly(core, caplog):
    bot = make_bot(core, cooldown=0)
    real = core.summarize
    core.summarize = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk on fire"))
    try:
        inter, rec = interaction()
        run(bot.tree.get_command("summarize").callback(inter, target="bridge"))
    finally:
        core.summarize = real
    assert rec.calls[0][0] == "defer"
    assert "something went wrong" in rec.calls[-1][1]["content"]
    assert "disk on fire" in caplog.text  # the detail goes to the log, not the user


def test_split_and_embed_limits():
    paragraph = "The council met on Monday. " * 30
    text = "\n\n".join(f"Paragraph {i}. {paragraph}" for i in range(20))
    pieces = split_text(text, MESSAGE_LIMIT)
    assert all(len(p) <= MESSAGE_LIMIT for p in pieces) and len(pieces) > 3
    assert all(p.startswith("Paragraph") or p.startswith("The council") for p in pieces)
    assert all(p.endswith(".") for p in pieces), "cut inside a sentence"
    assert split_text("word " * 1000, 100) and all(len(p) <= 100 for p in split_text("x" * 450, 100))
    # At sentence ends only: not after "Mr." or "U.S.", and a citation stays with its sentence.
    cited = "Mr. Smith said the U.S. will act on the report soon. [1] The council agreed. [2][3] It votes in May. [4]"
    assert split_text(cited, 60) == ["Mr. Smith said the U.S. will act on the report soon. [1]",
                                     "The council agreed. [2][3] It votes in May. [4]"]

    from rag.models import Citation

    cit = Citation(n=1, article_id="a", source="Outlet", published="2026-03-03", title="T" * 300,
                   url="https://e.example/a", path=None, quote="Q " * 700)
    answer = SimpleNamespace(question="Q?" * 200, answer=("A sentence that goes on. " * 400).strip(),
                             answerable=True, citations=[cit.renumbered(i) for i in range(1, 41)],
                             warnings=["w"])
    embeds = answer_embeds(answer)
    for e in embeds:
        assert len(e.description or "") <= DESCRIPTION_LIMIT and len(e.fields) <= FIELDS_LIMIT
        assert len(e) <= EMBED_TOTAL_LIMIT
        assert all(len(f.name) <= 256 and len(f.value) <= 1024 for f in e.fields)
    assert sum(len(e.fields) for e in embeds) == 40
    for message in pack_embeds(embeds):
        assert len(message) <= 10 and sum(len(e) for e in message) <= EMBED_TOTAL_LIMIT
    assert (embeds[0].description or "").endswith("on.")


def test_daily_briefing_posts_once_a_day_even_across_restarts(core):
    posts: list[str] = []
    channel = SimpleNamespace(id=999, guild=SimpleNamespace(id=GUILD_A))

    async def send(content, **kwargs):
        assert kwargs["allowed_mentions"] is NO_PINGS
        posts.append(content)

    channel.send = send

    def new_bot():
        b = make_bot(core, briefing_time=datetime.strptime("08:00", "%H:%M").time(), briefing_day="same")
        b.get_channel = lambda cid: channel if cid == 999 else None
        return b

    morning = datetime(2026, 3, 3, 7, 59)
    nine = datetime(2026, 3, 3, 9, 0)
    first = new_bot()
    assert run(first.post_due_briefings(morning)) == []  # not yet time
    assert run(first.post_due_briefings(nine)) == [999]
    assert posts and "Harlow Street" in "\n".join(posts)
    assert run(first.post_due_briefings(nine.replace(hour=10))) == []
    restarted = new_bot()  # a new process: what was posted is remembered on disk
    assert run(restarted.post_due_briefings(nine.replace(hour=11))) == []
    assert run(restarted.post_due_briefings(datetime(2026, 3, 4, 8, 1))) == [999]
    assert all(len(p) <= MESSAGE_LIMIT for p in posts)


def test_long_briefing_is_split_for_discord():
    md = "# News briefing\n\n" + "\n\n".join(f"## {i}. Story\n\n" + "Sentence here. " * 80 for i in range(10))
    parts = briefing_messages(md)
    assert len(parts) > 1 and all(len(p) <= MESSAGE_LIMIT for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == md.replace("\n", "").replace(" ", "")


# --- mentions and threads, through dpytest ----------------------------------------------------------


def _add_thread_support(bot) -> None:
    """dpytest 0.7 has no threads: answer `start_thread_with_message` the way Discord does
    (a THREAD_CREATE with the bot as owner), so discord.py's own Thread objects are used."""
    import discord.ext.test.backend as back

    http = bot.http
    counter = iter(range(10**18, 10**18 + 1000))

    async def start_thread_with_message(channel_id, message_id, *, name, auto_archive_duration,
                                        rate_limit_per_user=None, reason=None):
        channel = bot.get_channel(channel_id)
        data = {"id": str(next(counter)), "guild_id": str(channel.guild.id), "parent_id": str(channel_id),
                "owner_id": str(bot.user.id), "name": name, "type": 11, "message_count": 0,
                "member_count": 1, "rate_limit_per_user": 0, "newly_created": True,
                "thread_metadata": {"archived": False, "auto_archive_duration": auto_archive_duration,
                                    "archive_timestamp": "2026-03-03T00:00:00+00:00", "locked": False}}
        back.get_state().parse_thread_create(data)
        return data

    http.start_thread_with_message = start_thread_with_message


@pytest.mark.model  # needs the real model: which sentences mean the same
def test_mentions_open_a_thread_and_follow_ups_use_its_history(core):
    import discord.ext.test as dpytest

    async def scenario():
        bot = make_bot(core, cooldown=0, guild_collections={})  # dpytest's guild is mapped to "alpha" below
        await bot._async_setup_hook()
        dpytest.configure(bot, members=2)
        _add_thread_support(bot)
        bot._connection.loop = asyncio.get_running_loop()  # dpytest's state leaves it unset; typing() needs it
        guild = dpytest.get_config().guilds[0]
        core.config.guild_collections[guild.id] = "alpha"
        asked: list[str] = []
        real = core.ask
        answers = []
        core.ask = lambda *a, **k: (asked.append(a[1]), answers.append(real(*a, **k)))[1] or answers[-1]
        payloads = []
        send = bot.http.send_message

        async def recording_send(channel_id, *, params):
            channel = bot.get_channel(channel_id) or guild.get_thread(channel_id)  # noqa: F841 (read by dpytest)
            payloads.append(params.payload)
            return await send(channel_id, params=params)

        bot.http.send_message = recording_send
        try:
            await dpytest.message("nobody is talking to the bot here")
            assert dpytest.verify().message().nothing()
            await dpytest.message(f"<@{bot.user.id}> How many people were injured when the ship hit the bridge?")
            reply = dpytest.get_message()
            assert isinstance(reply.channel, discord.Thread) and reply.channel.owner_id == bot.user.id
            assert "Fourteen" in reply.embeds[0].description
            thread = reply.channel
            await dpytest.message("And how long will it stay closed?", channel=thread)
            follow = dpytest.get_message()
            assert follow.channel.id == thread.id
            assert "three weeks" in follow.embeds[0].description
            # Without an LLM the follow-up is made standalone with the thread's earlier question.
            assert asked[-1] == "And how long will it stay closed?"
            rewritten = answers[-1].warnings[0]
            assert rewritten.startswith("answered as: And how long will it stay closed?")
            assert "injured when the ship hit the bridge" in rewritten
            assert payloads and all(p.get("allowed_mentions") == {"parse": []} for p in payloads)
        finally:
            core.ask = real
            core.config.guild_collections.pop(guild.id, None)
            await dpytest.empty_queue()

    run(scenario())


def test_follow_up_is_rewritten_by_the_llm_when_configured(core):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    history = [("user", "How many people were injured when the ship hit the bridge?"), ("bot", "Fourteen [1].")]
    c = with_llm(core.components(GUILD_A), FakeListChatModel(
        responses=["How long will the Harlow Street bridge stay closed?"]))
    assert core.standalone_question(c, "And how long will it stay closed?", history) == \
        "How long will the Harlow Street bridge stay closed?"
    # A rewrite that is not one plain question is not trusted: the heuristic is used instead.
    c = with_llm(c, FakeListChatModel(responses=["It will be closed for three weeks [1]."]))
    assert core.standalone_question(c, "And how long?", history) == \
        "And how long? (context: How many people were injured when the ship hit the bridge?)"
    assert core.standalone_question(c, "First question?", []) == "First question?"


def test_slash_commands_sync_per_guild_in_development_else_globally(core):
    synced = []

    async def scenario(guilds):
        bot = make_bot(core, dev_guilds=guilds)

        async def sync(*, guild=None):
            synced.append(guild.id if guild else "global")
            return []

        bot.tree.sync = sync
        await bot.sync_slash_commands()

    run(scenario([5, 6]))
    assert synced == [5, 6]
    synced.clear()
    run(scenario([]))
    assert synced == ["global"]


# --- streamed answers ---------------------------------------------------------------------------------

LLM_ANSWER = ("Fourteen people were injured when the container ship struck the Harlow Street bridge [1]. "
              "Mayor Ellen Ruiz said the bridge would stay closed for at least three weeks [1].")
BRIDGE_QUESTION = "How many people were injured at the bridge?"


def llm_core(core, sleep: float | None = 0.004) -> BotCore:
    """A BotCore over the same collections whose LLM is LangChain's fake chat model, writing
    LLM_ANSWER a character at a time (`sleep` seconds each). Not closed: it shares `core`'s
    registry and store."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    fake = FakeListChatModel(responses=[LLM_ANSWER], sleep=sleep)
    by_name = dict(core._components)  # the fixture's ingested collections, "alpha" and "beta"
    config = BotConfig(**{**core.config.__dict__, "guild_collections": {GUILD_A: "alpha", GUILD_B: "beta"}})
    return BotCore(core.settings, config, lambda s: with_llm(by_name[s.collection], fake))


def as_dicts(embeds) -> list[dict]:
    return [e.to_dict() for e in embeds]


def drafts_grow(descriptions: list[str]) -> bool:
    """Each draft is the one before it and more."""
    texts = [d.removesuffix(DRAFT_MARK) for d in descriptions]
    return all(a != b and b.startswith(a) for a, b in zip(texts, texts[1:]))


def test_ask_streams_the_llm_answer_into_the_reply_then_shows_the_checked_answer(core):
    streaming = llm_core(core)
    bot = make_bot(streaming, cooldown=0)
    bot.edit_interval = 0.1
    expected = streaming.ask(GUILD_A, BRIDGE_QUESTION)  # the same answer, not streamed
    assert expected.mode == "llm" and expected.answerable
    inter, rec = interaction()
    run(bot.tree.get_command("ask").callback(inter, question=BRIDGE_QUESTION))
    assert rec.calls[0] == ("defer", {"thinking": True})
    edits = [kw for name, kw in rec.calls if name == "edit"]
    *drafts, final = edits
    assert len(drafts) >= 2, "the answer was not shown as it was written"
    descriptions = [d["embeds"][0].description for d in drafts]
    assert all(d.endswith(DRAFT_MARK) for d in descriptions) and drafts_grow(descriptions)
    assert LLM_ANSWER.startswith(descriptions[0].removesuffix(DRAFT_MARK))
    # What stays is exactly the answer the bot posts without streaming: checked, with its sources.
    groups = pack_embeds(answer_embeds(expected))
    assert as_dicts(final["embeds"]) == as_dicts(groups[0])
    followups = [kw for name, kw in rec.calls if name == "followup"]
    assert [as_dicts(kw["embeds"]) for kw in followups] == [as_dicts(g) for g in groups[1:]]
    assert "Coastal Times" in final["embeds"][0].fields[0].name
    assert all(kw.get("allowed_mentions") is NO_PINGS for name, kw in rec.calls if name != "defer")
    # The edit rate: no two edits of the reply closer than the interval, the final one included.
    times = [e["at"] for e in edits]
    assert all(b - a >= 0.09 for a, b in zip(times, times[1:])), times


def test_without_an_llm_nothing_is_streamed_and_the_answer_is_sent_at_once(core):
    bot = make_bot(core, cooldown=0)
    inter, rec = interaction()
    run(bot.tree.get_command("ask").callback(inter, question=BRIDGE_QUESTION))
    assert [name for name, _ in rec.calls] == ["defer", "followup"]


def test_a_failure_after_a_draft_replaces_the_draft_with_the_error(core, caplog):
    streaming = llm_core(core)
    bot = make_bot(streaming, cooldown=0)
    bot.edit_interval = 0.05
    real = streaming.ask

    def failing_ask(*args, on_token=None, **kwargs):
        for piece in ("Fourteen ", "people ", "were "):
            on_token(piece)
            time.sleep(0.08)
        raise RuntimeError("disk on fire")

    streaming.ask = failing_ask
    try:
        inter, rec = interaction()
        run(bot.tree.get_command("ask").callback(inter, question=BRIDGE_QUESTION))
    finally:
        streaming.ask = real
    edits = [kw for name, kw in rec.calls if name == "edit"]
    assert edits[0]["embeds"][0].description.startswith("Fourteen")
    assert edits[-1]["embeds"][0].description == ERROR_TEXT and not edits[-1]["embeds"][0].fields
    assert "disk on fire" in caplog.text


def test_edit_throttle_with_a_fake_clock():
    now = [100.0]
    throttle = EditThrottle(1.0, clock=lambda: now[0])
    assert throttle.wait_time() == 0  # the first edit goes at once
    throttle.mark()
    now[0] += 0.25
    assert throttle.wait_time() == pytest.approx(0.75)
    now[0] += 0.75
    assert throttle.wait_time() == 0


def test_stream_edits_at_most_once_per_interval_with_a_fake_clock():
    """Tokens arrive from a worker thread every 0.1 s (fake time) for 5 s; the reply is edited at
    most once a second, each draft longer than the last, and the final edit waits its turn too."""
    now = [0.0]
    shown: list[tuple[float, str]] = []
    producing = [True]

    async def fake_sleep(seconds: float) -> None:
        """Wait until the fake clock, moved on by the tokens' producer, reaches the end; once the
        producer is done, time jumps there."""
        end = now[0] + seconds
        while now[0] < end:
            if not producing[0]:
                now[0] = end
            await asyncio.sleep(0)

    async def show(embeds) -> None:
        shown.append((now[0], embeds[0].description))

    async def scenario() -> bool:
        stream = AnswerStream(show, "Q?", throttle=EditThrottle(1.0, clock=lambda: now[0]), sleep=fake_sleep)
        stream.start()
        loop = asyncio.get_running_loop()
        for i in range(50):
            await loop.run_in_executor(None, stream.on_token, f"word{i} ")  # from another thread
            for _ in range(3):
                await asyncio.sleep(0)
            now[0] = round(now[0] + 0.1, 6)
        producing[0] = False
        return await stream.finish([discord.Embed(description="final")])

    assert run(scenario()) is True
    times = [t for t, _ in shown]
    assert all(b - a >= 1.0 - 1e-9 for a, b in zip(times, times[1:])), times
    assert 5 <= len(shown) <= 7, times  # about one a second over 5 s, plus the final edit
    assert shown[-1][1] == "final" and drafts_grow([d for _, d in shown[:-1]])
    assert shown[0][1] == "word0" + DRAFT_MARK  # the first draft is shown without waiting


def test_stream_without_tokens_shows_nothing():
    shown = []

    async def show(embeds) -> None:
        shown.append(embeds)

    async def scenario() -> bool:
        stream = AnswerStream(show, "Q?")
        stream.start()
        await asyncio.sleep(0)
        return await stream.finish([discord.Embed(description="final")])

    assert run(scenario()) is False and shown == []  # the caller sends the answer as usual


def test_mention_answer_streams_into_the_thread_reply(core):
    import discord.ext.test as dpytest
    from discord.ext.test import callbacks

    async def scenario():
        streaming = llm_core(core)
        bot = make_bot(streaming, cooldown=0, guild_collections={})
        bot.edit_interval = 0.1
        await bot._async_setup_hook()
        dpytest.configure(bot, members=2)
        _add_thread_support(bot)
        bot._connection.loop = asyncio.get_running_loop()
        guild = dpytest.get_config().guilds[0]
        streaming.config.guild_collections[guild.id] = "alpha"
        edits: list[dict] = []

        async def on_edit(channel, message, fields):
            edits.append(fields["params"].payload)

        callbacks.set_callback(on_edit, "edit_message")
        try:
            expected = streaming.ask(guild.id, "How many people were injured at the bridge?")
            await dpytest.message(f"<@{bot.user.id}> How many people were injured at the bridge?")
            reply = dpytest.get_message()  # the first draft, then edited in place
            assert isinstance(reply.channel, discord.Thread)
            assert dpytest.verify().message().nothing(), "the answer was sent again, not edited in"
            assert reply.embeds[0].description.endswith(DRAFT_MARK)
            *drafts, final = edits
            descriptions = [reply.embeds[0].description] + [d["embeds"][0]["description"] for d in drafts]
            assert len(descriptions) >= 2 and drafts_grow(descriptions)
            groups = pack_embeds(answer_embeds(expected))
            assert len(groups) == 1 and final["embeds"] == as_dicts(groups[0])
            stored = await reply.channel.fetch_message(reply.id)
            assert as_dicts(stored.embeds) == as_dicts(groups[0])
            assert all(e.get("allowed_mentions") == {"parse": []} for e in edits)
            # The thread remembers the checked answer, not the draft.
            assert bot.conversations[reply.channel.id][-1] == ("bot", expected.answer)
        finally:
            callbacks.remove_callback("edit_message")
            streaming.config.guild_collections.pop(guild.id, None)
            await dpytest.empty_queue()

    run(scenario())


# --- bounded caches -----------------------------------------------------------------------------------


def test_lru_cache_keeps_the_most_recently_used():
    cache: LRUCache[int, str] = LRUCache(3)
    for i in range(3):
        cache[i] = str(i)
    assert cache[0] == "0"  # a read makes 0 the newest
    cache[3] = "3"
    assert list(cache) == [2, 0, 3] and 1 not in cache
    assert cache.setdefault(4, "4") == "4" and len(cache) == 3 and 2 not in cache
    assert 0 in cache and list(cache)[0] == 0, "a membership test is not a use"
    del cache[0]
    assert list(cache) == [3, 4]
    with pytest.raises(ValueError):
        LRUCache(0)


def test_cooldowns_expire_and_are_capped():
    now = [0.0]
    cd: Cooldowns[tuple[int, str]] = Cooldowns(maxsize=3, clock=lambda: now[0])
    assert cd.wait_left((1, "ask"), 10) == 0
    now[0] = 4
    assert cd.wait_left((1, "ask"), 10) == pytest.approx(6)
    assert cd.wait_left((2, "ask"), 10) == 0
    now[0] = 10.5  # user 1's cooldown is over: its entry is dropped when anyone is checked
    assert cd.wait_left((3, "ask"), 10) == 0
    assert (1, "ask") not in cd and len(cd) == 2
    for user in (4, 5):  # beyond the cap the oldest entry goes
        assert cd.wait_left((user, "ask"), 10) == 0
    assert len(cd) == 3 and (2, "ask") not in cd
    now[0] = 100
    assert cd.wait_left((9, "ask"), 10) == 0 and len(cd) == 1
    assert cd.wait_left((9, "ask"), 0) == 0 and len(cd) == 0  # no cooldown: nothing is kept


def test_the_bot_bounds_its_conversations_and_cooldowns(core):
    bot = make_bot(core, cooldown=30)
    assert isinstance(bot.conversations, LRUCache) and bot.conversations.maxsize == MAX_CONVERSATIONS
    for thread_id in range(MAX_CONVERSATIONS + 5):
        bot.conversations[thread_id] = [("user", "q")]
    assert len(bot.conversations) == MAX_CONVERSATIONS and 0 not in bot.conversations
    assert bot.cooldown_left(7, "ask") == 0 and bot.cooldown_left(7, "ask") > 29
    bot.cooldowns.clock = lambda: time.monotonic() + 31  # the cooldown has passed
    assert bot.cooldown_left(8, "ask") == 0 and (7, "ask") not in bot.cooldowns


# --- settings and --check ---------------------------------------------------------------------------


def test_bot_check_prints_commands_and_names_problems(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rag.cli.app import main

    runner = CliRunner()
    res = runner.invoke(main, ["bot", "--check", "--data-dir", str(tmp_path)])
    assert res.exit_code == 1 and "DISCORD_TOKEN is not set" in res.output
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    res = runner.invoke(main, ["bot", "--check", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [c["name"] for c in data["commands"]] == ["ask", "summarize", "briefing", "news", "sources", "ingest",
                                                     "feeds"]
    for cmd in data["commands"]:
        assert cmd["description"] and all(o["description"] for o in cmd["options"])
    feeds = data["commands"][-1]
    assert [(o["name"], o["type"]) for o in feeds["options"]] == [("add", "subcommand"), ("list", "subcommand"),
                                                                  ("remove", "subcommand")]
    assert [(o["name"], o["required"]) for o in feeds["options"][0]["options"]] == [("url", True), ("every", False)]
    ask = data["commands"][0]
    assert [(o["name"], o["required"]) for o in ask["options"]] == [("question", True), ("source", False),
                                                                    ("since", False)]
    assert TOKEN not in res.output
    monkeypatch.setenv("NEWSDESK_BRIEFING_CHANNELS", "123456789012345678,general,12")
    monkeypatch.setenv("NEWSDESK_BRIEFING_TIME", "25:00")
    res = runner.invoke(main, ["bot", "--check", "--data-dir", str(tmp_path)])
    assert res.exit_code == 1
    assert "NEWSDESK_BRIEFING_CHANNELS: 'general'" in res.output and "NEWSDESK_BRIEFING_TIME" in res.output
    assert "NEWSDESK_BRIEFING_CHANNELS: '12' is not a Discord id" in res.output
    monkeypatch.setenv("NEWSDESK_TIMEZONE", "Mars/Olympus")
    res = runner.invoke(main, ["bot", "--check", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2 and "NEWSDESK_TIMEZONE: unknown time zone 'Mars/Olympus'" in res.output


def test_config_parsing_and_the_token_never_shows(settings):
    g1, g2, g5 = "111111111111111111", "222222222222222222", "555555555555555555"
    s = settings.model_copy(update={"discord_token": TOKEN, "guild_collections": f"{g1}:alpha, {g2}:beta",
                                    "bot_guilds": g5, "ingest_roles": "editors, 42"})
    from pydantic import SecretStr

    s.discord_token = SecretStr(TOKEN)
    config = load_bot_config(s)
    assert config.guild_collections == {int(g1): "alpha", int(g2): "beta"} and config.dev_guilds == [int(g5)]
    assert config.ingest_roles == ["editors", "42"] and TOKEN not in repr(config)
    bad = s.model_copy(update={"guild_collections": f"{g1}:no spaces allowed"})
    with pytest.raises(BotConfigError, match="not a valid collection name"):
        load_bot_config(bad)
    assert command_specs  # imported for --check; exercised above


# --- /feeds, /news and narrowed daily posts (issue #17) ------------------------------------------------

GUILD_C = 333
CHANNEL_WIRE, CHANNEL_BRIDGE, CHANNEL_ALL = 100000000000000001, 100000000000000002, 100000000000000003

WIND = ("The state grid operator said offshore wind farms supplied a record share of electricity on Monday. "
        "Turbines off the coast produced more power than the gas plants for the first time, and electricity "
        "prices fell as the windy weather lasted into the evening.")


@pytest.fixture
def desk_core(tmp_path, embedder, tokenizer, monkeypatch):
    """A BotCore of its own (guild A: "desk-a", B: "desk-b", C: "desk-c") that lets feeds reach
    127.0.0.1, as NEWSDESK_FEED_PRIVATE_ADDRESSES does; guild A has a bridge story (Coastal Times)
    and a wind record (Reuters), both of 2026-03-03 and ingested just now."""
    from rag.components import Components
    from rag.settings import Settings

    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", llm="none", feed_private_addresses=True)
    config = BotConfig(token=TOKEN, guild_collections={GUILD_A: "desk-a", GUILD_B: "desk-b", GUILD_C: "desk-c"},
                       cooldown=0)
    c = BotCore(settings, config, lambda s: Components(s, embedder=embedder, tokenizer=tokenizer))
    write_article(tmp_path / "a", "bridge.md", "Ship strikes Harlow Street bridge",
                  "A container ship struck the Harlow Street bridge early on Tuesday. Fourteen people were "
                  "injured, most of them workers on a night maintenance crew. Mayor Ellen Ruiz said the bridge "
                  "would stay closed for at least three weeks while engineers inspect the central pier.",
                  outlet="Coastal Times", date="2026-03-03", url="https://coastal.example/bridge")
    write_article(tmp_path / "a", "wind.md", "Offshore wind sets a power record", WIND, outlet="Reuters",
                  date="2026-03-03", url="https://reuters.example/wind")
    run_ingest(c.components(GUILD_A), [tmp_path / "a"])
    yield c
    c.close()


@pytest.fixture
def feed_server():
    from test_feeds import FeedServer

    srv = FeedServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.release.set()
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


def replies(rec: Recorder) -> str:
    return "\n".join(kw["content"] or "" for name, kw in rec.calls if name in ("followup", "send_message"))


def feeds_command(bot: NewsdeskBot, name: str):
    group = bot.tree.get_command("feeds")
    assert isinstance(group, discord.app_commands.Group)
    return group.get_command(name).callback


def test_feeds_add_list_remove_need_manage_server_or_an_ingest_role(desk_core, feed_server):
    bot = make_bot(desk_core, ingest_roles=["editors"])
    url = feed_server.base + "/wire.xml"
    for name, kwargs in (("add", {"url": url}), ("list", {}), ("remove", {"url": url})):
        inter, rec = interaction(roles=["readers"])
        run(feeds_command(bot, name)(inter, **kwargs))
        assert [n for n, _ in rec.calls] == ["send_message"] and rec.calls[0][1]["ephemeral"], name
        assert "Manage Server" in rec.calls[0][1]["content"]
    assert desk_core.feeds_list(GUILD_A) == []

    inter, rec = interaction(manage_guild=True)
    run(feeds_command(bot, "add")(inter, url=url, every=15))
    assert rec.calls[0] == ("defer", {"thinking": True})
    (embed,) = sent_embeds(rec)
    assert embed.title == f"Subscribed to {url}" and "every 15 min" in embed.fields[0].value
    inter, rec = interaction(roles=["Editors"])  # a role, by name, case-insensitive
    run(feeds_command(bot, "add")(inter, url=url, every=30))
    assert sent_embeds(rec)[0].title == f"Updated {url}"
    assert [(f.url, f.every_minutes) for f in desk_core.feeds_list(GUILD_A)] == [(url, 30)]
    assert desk_core.feeds_list(GUILD_B) == []  # each server its own collection's feeds

    inter, rec = interaction(manage_guild=True)
    run(feeds_command(bot, "list")(inter))
    (embed,) = sent_embeds(rec)
    assert embed.fields[0].name == url and "every 30 min · new" in embed.fields[0].value
    assert all(kw.get("allowed_mentions") is NO_PINGS for name, kw in rec.calls if name != "defer")
    inter, rec = interaction(guild_id=GUILD_B, manage_guild=True)
    run(feeds_command(bot, "list")(inter))
    assert "No feeds yet" in sent_embeds(rec)[0].description

    inter, rec = interaction(manage_guild=True)
    run(feeds_command(bot, "remove")(inter, url=f" {url} "))
    assert sent_embeds(rec)[0].title == f"Unsubscribed from {url}" and desk_core.feeds_list(GUILD_A) == []
    inter, rec = interaction(manage_guild=True)
    run(feeds_command(bot, "remove")(inter, url=url))
    assert "not subscribed" in rec.calls[-1][1]["content"] and rec.calls[-1][1]["ephemeral"]


def test_feeds_add_wants_a_public_http_url_unless_private_addresses_are_allowed(core, desk_core):
    bot = make_bot(core, ingest_roles=[])
    inter, rec = interaction(manage_guild=True)
    run(feeds_command(bot, "add")(inter, url="ftp://example.com/feed.xml"))
    assert rec.calls[0][0] == "send_message" and "http(s) URL" in rec.calls[0][1]["content"]
    for url in ("http://127.0.0.1:9/feed.xml", "http://169.254.169.254/latest/meta-data", "http://localhost/rss"):
        inter, rec = interaction(manage_guild=True)
        run(feeds_command(bot, "add")(inter, url=url))
        reply = rec.calls[-1][1]
        assert reply["content"].startswith(f"Cannot subscribe to {url}:") and "private or local address" in \
            reply["content"] and reply["ephemeral"], url
    assert core.feeds_list(GUILD_A) == []
    # NEWSDESK_FEED_PRIVATE_ADDRESSES lets polls reach an intranet feed, and /feeds add follows it.
    feed, new = desk_core.feeds_add(GUILD_A, "http://127.0.0.1:9/feed.xml")
    assert new and feed.every_minutes == desk_core.settings.feed_every_minutes


def news_text(bot: NewsdeskBot, **options) -> str:
    inter, rec = interaction()
    run(bot.tree.get_command("news").callback(inter, **options))
    assert rec.calls[0] == ("defer", {"thinking": True}), rec.calls
    return replies(rec)


def test_news_shows_what_arrived_in_the_last_hours(desk_core, tmp_path):
    from datetime import UTC, timedelta

    c = desk_core.components(GUILD_A)
    write_article(tmp_path / "old", "budget.md", "Council approves school budget",
                  "The city council approved a school budget of 412 million dollars on Monday night. The plan "
                  "raises starting salaries for teachers by six percent and funds forty new classroom aides.",
                  outlet="Bay Herald", date="2026-03-03", url="https://bay.example/budget")
    run_ingest(c, [tmp_path / "old"])
    three_days_ago = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="seconds")
    c.registry.db.execute("UPDATE articles SET ingested_at=? WHERE title=?",
                          (three_days_ago, "Council approves school budget"))
    bot = make_bot(desk_core)
    text = news_text(bot)
    assert text.startswith("# News of the last 24 hours")
    assert "Harlow Street" in text and "Offshore wind" in text and "school budget" not in text
    week = news_text(bot, hours=168)
    assert "school budget" in week and "Harlow Street" in week
    wind = news_text(bot, topic="wind power and electricity")
    assert "about “wind power and electricity”" in wind and "Offshore wind" in wind and "Harlow" not in wind
    assert "Nothing arrived in the last 24 hours about “banana bread”" in news_text(bot, topic="banana bread")
    assert "Harlow Street" in news_text(bot, hours=1)
    inter, rec = interaction()  # out of range (Discord's own check bypassed): a short message
    run(bot.tree.get_command("news").callback(inter, hours=500))
    assert rec.calls[0][0] == "send_message" and "1 to 168 hours" in rec.calls[0][1]["content"]
    bot = make_bot(desk_core, cooldown=30)
    news_text(bot, hours=2)
    inter, rec = interaction()
    run(bot.tree.get_command("news").callback(inter))
    assert rec.calls[0][0] == "send_message" and "wait" in rec.calls[0][1]["content"]


def posts_by_channel(bot: NewsdeskBot, now: datetime) -> dict[int, str]:
    """Run the daily post at `now` with stand-in channels of guild A; what each channel got."""
    posts: dict[int, list[str]] = {}

    def channel(cid: int):
        async def send(content, **kwargs):
            assert kwargs["allowed_mentions"] is NO_PINGS
            posts.setdefault(cid, []).append(content)

        return SimpleNamespace(id=cid, guild=SimpleNamespace(id=GUILD_A), send=send)

    bot.get_channel = channel
    run(bot.post_due_briefings(now))
    return {cid: "\n".join(parts) for cid, parts in posts.items()}


def test_a_channel_filter_narrows_the_daily_post(desk_core, settings):
    raw = f"{CHANNEL_WIRE}:sources=Reuters,AP, {CHANNEL_BRIDGE}:topic=the Harlow Street bridge,{CHANNEL_ALL}"
    parsed = load_bot_config(settings.model_copy(update={"briefing_channels": raw}), require_token=False)
    assert parsed.briefing_channels == [CHANNEL_WIRE, CHANNEL_BRIDGE, CHANNEL_ALL]
    bot = make_bot(desk_core, briefing_channels=parsed.briefing_channels, briefing_filters=parsed.briefing_filters,
                   briefing_time=datetime.strptime("08:00", "%H:%M").time(), briefing_day="same")
    posts = posts_by_channel(bot, datetime(2026, 3, 3, 9, 0))
    assert set(posts) == {CHANNEL_WIRE, CHANNEL_BRIDGE, CHANNEL_ALL}
    assert posts[CHANNEL_WIRE].startswith("# News briefing: 2026-03-03 · from Reuters, AP")
    assert "Offshore wind" in posts[CHANNEL_WIRE] and "Harlow" not in posts[CHANNEL_WIRE]
    assert "about “the Harlow Street bridge”" in posts[CHANNEL_BRIDGE]
    assert "Harlow Street" in posts[CHANNEL_BRIDGE] and "Offshore wind" not in posts[CHANNEL_BRIDGE]
    assert "Harlow Street" in posts[CHANNEL_ALL] and "Offshore wind" in posts[CHANNEL_ALL]


def test_channel_filters_parse_and_plain_ids_stay_as_they_were(settings):
    a, b = "123456789012345678", "223456789012345678"

    def parse(raw: str) -> BotConfig:
        return load_bot_config(settings.model_copy(update={"briefing_channels": raw}), require_token=False)

    config = parse(f"{a}:topic=energy;sources=Reuters,AP,{b}")
    assert config.briefing_channels == [int(a), int(b)] and list(config.briefing_filters) == [int(a)]
    assert (config.briefing_filters[int(a)].topic, config.briefing_filters[int(a)].sources) == ("energy",
                                                                                               ("Reuters", "AP"))
    config = parse(f" {a} , {b} ")
    assert config.briefing_channels == [int(a), int(b)] and config.briefing_filters == {}
    config = parse(f"{a}:sources= Reuters , 9News ;topic= wind  power")
    assert config.briefing_filters[int(a)].sources == ("Reuters", "9News")
    assert config.briefing_filters[int(a)].topic == "wind power"
    for raw, problem in ((f"{a}:", "give topic=TEXT and/or sources="), (f"{a}:colour=red", "'colour=red'"),
                         (f"{a}:topic=x,{a}", f"channel {a} is listed twice"), ("12:topic=x", "'12' is not a Discord id")):
        with pytest.raises(BotConfigError, match="NEWSDESK_BRIEFING_CHANNELS") as err:
            parse(raw)
        assert problem in str(err.value), raw


def test_inside_newsdesk_run_the_daily_post_polls_the_feeds_first(desk_core, feed_server, caplog):
    from test_feeds import make_items

    from rag.cli.run import Desk

    assert BotCore(desk_core.settings, desk_core.config, Desk(desk_core.settings).components).polls_feeds
    assert not desk_core.polls_feeds  # a plain `newsdesk bot` leaves polling to `newsdesk run` or cron
    url = feed_server.publish("/energy.xml", "Energy wire", make_items("energy", 2))
    desk_core.feeds_add(GUILD_C, url, every=60)
    desk_core.polls_feeds = True
    bot = make_bot(desk_core, briefing_channels=[CHANNEL_ALL], briefing_time=datetime.strptime("08:00", "%H:%M").time(),
                   briefing_day="same")
    bot.get_channel = lambda cid: SimpleNamespace(id=cid, guild=SimpleNamespace(id=GUILD_C), send=send)
    posts: list[str] = []

    async def send(content, **kwargs):
        posts.append(content)

    assert run(bot.post_due_briefings(datetime(2024, 6, 1, 9, 0))) == [CHANNEL_ALL]
    assert "Energy story number 0" in "\n".join(posts) and "Energy story number 1" in "\n".join(posts)
    assert len(feed_server.seen("/energy.xml")) == 1
    assert desk_core.feeds_list(GUILD_C)[0].articles_added == 2

    # A poll that fails is logged; the post goes out all the same.
    desk_core.poll_feeds = lambda guild_id: (_ for _ in ()).throw(RuntimeError("feed server on fire"))
    posts.clear()
    assert run(bot.post_due_briefings(datetime(2024, 6, 2, 9, 0))) == [CHANNEL_ALL]
    assert posts and "feed server on fire" in caplog.text


def test_no_poll_before_the_post_without_subscriptions_or_outside_the_desk(desk_core):
    calls = []
    real = desk_core.poll_feeds
    desk_core.poll_feeds = lambda guild_id: calls.append(guild_id) or real(guild_id)
    bot = make_bot(desk_core, briefing_channels=[CHANNEL_ALL], briefing_day="same",
                   briefing_time=datetime.strptime("08:00", "%H:%M").time())
    assert set(posts_by_channel(bot, datetime(2026, 3, 3, 9, 0))) == {CHANNEL_ALL}
    assert calls == []  # not inside `newsdesk run`: no poll at all
    desk_core.polls_feeds = True
    assert real(GUILD_A) is None  # inside it, a collection without subscriptions is not polled
    bot = make_bot(desk_core, briefing_channels=[CHANNEL_WIRE], briefing_day="same",
                   briefing_time=datetime.strptime("08:00", "%H:%M").time())
    assert set(posts_by_channel(bot, datetime(2026, 3, 3, 9, 0))) == {CHANNEL_WIRE}
    assert calls == [GUILD_A]
