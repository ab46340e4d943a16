"""What the bot must remember across restarts: the day each channel last got its briefing."""

from __future__ import annotations

import json
import os
import threading
from datetime import date
from pathlib import Path


class PostedBriefings:
    """A small JSON file under the data dir: {channel_id: "YYYY-MM-DD"}, written atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def last_posted(self, channel_id: int) -> date | None:
        """The day the channel last got its briefing, if ever."""
        value = self._read().get(str(channel_id))
        try:
            return date.fromisoformat(value) if value else None
        except ValueError:
            return None

    def mark_posted(self, channel_id: int, day: date) -> None:
        """Remember that the channel got its briefing on `day`."""
        with self._lock:
            data = self._read()
            data[str(channel_id)] = day.isoformat()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
