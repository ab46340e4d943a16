"""`newsdesk run`: the long-running desk. One process polls the subscribed feeds of every collection
on schedule (APScheduler) and, when a front end is installed and configured (the Discord bot, with
DISCORD_TOKEN), serves it too, so that one process is the only writer of the embedded store.

Front ends join through the `newsdesk.services` entry point group: each is a callable
`serve(settings, desk, stop) -> bool` that blocks until `stop` is set (or its own end) and returns
False, without blocking, when it is not configured. The core never imports them.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import click

from rag.cli.app import main
from rag.cli.options import common_options, err_console
from rag.components import Components
from rag.settings import Settings
from rag.text.dates import utc_now

log = logging.getLogger(__name__)

SERVICE_ENTRY_POINTS = "newsdesk.services"
SIGNAL_CHECK_SECONDS = 0.5  # how soon a stop signal delivered to another thread is acted on
# How often the schedule looks for due feeds. Feeds have intervals of whole minutes, so a tick of
# 30 s polls a feed at most half a minute late; a tick costs one small SQLite read per collection.
TICK_SECONDS = 30.0


class Desk:
    """The collections one `run` process serves: one `Components` each, the embedding model and
    the LLM shared, so the bot and the poller write through the same objects."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._components: dict[str, Components] = {}
        self._lock = threading.Lock()

    def components(self, settings: Settings) -> Components:
        """The components of `settings.collection` (a BotCore's `components_factory`)."""
        with self._lock:
            name = settings.collection
            if name not in self._components:
                shared = next(iter(self._components.values()), None)
                self._components[name] = (
                    Components(settings, share=shared) if shared else Components(settings))
            return self._components[name]

    def collections(self) -> list[str]:
        """Every collection of the data dir (the ones with a registry) and the default one."""
        folder = Path(self.settings.data_dir).expanduser() / "registry"
        found = sorted(p.stem for p in folder.glob("*.sqlite3")) if folder.is_dir() else []
        return list(dict.fromkeys([self.settings.collection, *found]))

    def poll_due(self) -> None:
        """One pass over the due feeds of every collection; a failure of one collection is logged."""
        from rag.ingest.polling import poll

        for name in self.collections():
            c = self.components(self.settings.model_copy(update={"collection": name}))
            try:
                report = poll(c)
            except Exception:
                log.exception("polling the feeds of collection %r failed", name)
                continue
            for feed in report.feeds:
                level = logging.WARNING if feed.status == "failed" else logging.INFO
                log.log(level, "%s: %s (%d new) %s", feed.url, feed.status, feed.new, feed.error or "")

    def close(self) -> None:
        """Release open files."""
        for c in self._components.values():
            c.close()


def _services() -> list[tuple[str, Callable[[Settings, Desk, threading.Event], bool]]]:
    from importlib.metadata import entry_points

    return [(ep.name, ep.load()) for ep in entry_points(group=SERVICE_ENTRY_POINTS)]


def _start_scheduler(desk: Desk, tick: float):
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    # One poll at a time (max_instances=1); a tick missed while a poll runs is not made up later.
    scheduler.add_job(desk.poll_due, "interval", seconds=tick, max_instances=1, coalesce=True,
                      id="poll", next_run_time=utc_now())
    scheduler.start()
    return scheduler


@main.command(short_help="Run the desk: poll the feeds on schedule (and the Discord bot if configured).")
@click.option("--tick", type=click.FloatRange(min=0.1), default=TICK_SECONDS, show_default=True,
              help="Seconds between looks for due feeds.")
@common_options
def run(tick: float, settings, as_json: bool) -> None:
    """Poll the subscribed feeds of every collection when they are due and, when DISCORD_TOKEN is
    set, run the Discord bot in the same process. Ctrl-C or SIGTERM stops it cleanly."""
    # SIGTERM (systemd, docker stop) stops the desk as Ctrl-C does. SIGINT too, explicitly: a
    # process started in the background by a script (`newsdesk run &`, `nohup`) inherits SIGINT
    # ignored, and Python then leaves it ignored, so `kill -INT` did nothing.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.default_int_handler)
    stop = threading.Event()
    desk = Desk(settings)
    scheduler = _start_scheduler(desk, tick)
    err_console().print(f"Newsdesk desk running (data in {settings.data_dir}); polling feeds every "
                        f"{tick:g} s for due ones. Ctrl-C stops it.", style="dim", markup=False)
    try:
        served = [name for name, serve in _services() if serve(settings, desk, stop)]
        if not served:
            # Short waits: a Ctrl-C or SIGTERM the kernel hands to another thread (the poller's)
            # only sets a flag, and the main thread runs the handler when it next wakes. A wait of
            # an hour left `newsdesk run` deaf to SIGINT, seen twice in full test runs.
            while not stop.wait(SIGNAL_CHECK_SECONDS):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        err_console().print("stopping: finishing the poll in hand…", style="dim", markup=False)
        scheduler.shutdown(wait=True)
        desk.close()
