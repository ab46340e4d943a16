"""Which embedding backend is fastest on this CPU, measured here once and remembered.

CPUs of one machine kind differ: on one 2-core machine with AVX-512 and AMX torch embedded 24-31
texts/s against 14-20 for the int8 ONNX model (issue #20), on another the order was the reverse.
So the backend for bulk work (ingest, reindex) is chosen by timing each one that computes the
collection's vectors on the same small batch, and the result is cached per CPU (its model name
and flags), per model and per library version. Queries always use ONNX (no torch import).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

# The timed work: 3 rounds, each backend in turn embedding 16 texts of ~1,000 characters (a
# passage is ~220 word pieces), after one warm-up batch; a backend's rate is its best round, so a
# moment of load from another process does not decide (measured: one backend timed once under
# load read 15.1 texts/s against torch's 9.2, where idle torch runs 18.3 and it 11). About 8 s
# with two backends on 2 cores.
CALIBRATION_TEXTS = 16
CALIBRATION_ROUNDS = 3
_WORDS = ("the minister said on Tuesday that talks with officials in the capital would resume after "
          "a week of protests over fuel prices and a court ruling on the election of 2026 while "
          "analysts expect growth to slow as exports fall and central banks raise rates").split()


@dataclass
class Calibration:
    """The measured rate of each backend of one vector space on one CPU, and the one chosen."""

    space: str
    cpu: str
    chosen: str
    rates: dict[str, float] = field(default_factory=dict)  # texts per second
    measured: str = ""
    cached: bool = False

    def describe(self) -> str:
        """One line for `stats` and logs."""
        rates = ", ".join(f"{name} {rate:.1f}/s" for name, rate in sorted(self.rates.items(), key=lambda kv: -kv[1]))
        when = f"measured {self.measured[:10]}" if self.measured else "measured now"
        return f"bulk embeddings with {self.chosen} ({rates}; {when} on {self.cpu})"

    def as_json(self) -> dict:
        """The JSON form (`stats --json`)."""
        return {k: v for k, v in asdict(self).items() if k != "cached"}


def cpu_description() -> tuple[str, list[str]]:
    """The CPU's model name and flags (from /proc/cpuinfo; the platform's name elsewhere)."""
    name, flags = "", list[str]()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not name:
                    name = value.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = sorted(value.split())
                if name and flags:
                    break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    return name, flags


def cpu_key(model_key: str) -> str:
    """What a calibration holds for: the CPU's model and flags, the model's weights, the
    libraries' versions and the thread count."""
    name, flags = cpu_description()
    versions = []
    for package in ("onnxruntime", "torch"):
        try:
            versions.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package}=none")
    raw = "|".join([name, " ".join(flags), model_key, *versions, str(os.cpu_count())])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def calibration_texts(n: int = CALIBRATION_TEXTS) -> list[str]:
    """`n` different texts of about 1,000 characters, the same on every run."""
    texts = []
    for i in range(n):
        words = [_WORDS[(i * 7 + j) % len(_WORDS)] for j in range(170)]
        texts.append(" ".join(words)[:1000])
    return texts


def measure(embed: Callable[[list[str]], object], texts: list[str], batch: int) -> float:
    """Texts per second of `embed` over `texts`, after one warm-up batch."""
    embed(texts[:batch])
    start = time.perf_counter()
    embed(texts)
    return len(texts) / max(time.perf_counter() - start, 1e-9)


def calibrate(space: str, candidates: dict[str, Callable[[], object]], cache_file: Path, key: str,
              batch: int = 16) -> Calibration:
    """The fastest of `candidates` (backend name -> builder of an embedder in `space`), from the
    cache when this CPU was measured before, else timed now and cached."""
    cached = _read(cache_file).get(key, {}).get(space)
    if cached and cached.get("chosen") in candidates:
        return Calibration(**cached, cached=True)
    texts = calibration_texts()
    embedders = {}
    for name, build in candidates.items():
        try:
            embedders[name] = build()
            embedders[name].embed(texts[:batch])  # type: ignore[attr-defined]  # load and warm up
        except Exception as exc:  # a backend that cannot run here is not a candidate
            log.warning("embedding backend %s unavailable: %s", name, exc)
            embedders.pop(name, None)
    rates: dict[str, float] = {}
    for _ in range(CALIBRATION_ROUNDS):
        for name, embedder in embedders.items():
            start = time.perf_counter()
            embedder.embed(texts)  # type: ignore[attr-defined]
            rate = len(texts) / max(time.perf_counter() - start, 1e-9)
            rates[name] = round(max(rates.get(name, 0.0), rate), 2)
    if not rates:
        raise RuntimeError(f"no embedding backend for {space} could run")
    chosen = max(rates, key=lambda name: rates[name])
    result = Calibration(space, cpu_description()[0], chosen, rates, datetime.now(UTC).isoformat(timespec="seconds"))
    log.info("calibrated: %s", result.describe())
    _write(cache_file, key, result)
    return result


def cached_calibration(cache_file: Path, key: str, space: str) -> Calibration | None:
    """The calibration recorded for this CPU and space, if any (nothing is measured)."""
    cached = _read(cache_file).get(key, {}).get(space)
    return Calibration(**cached, cached=True) if cached else None


def _read(cache_file: Path) -> dict:
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(cache_file: Path, key: str, result: Calibration) -> None:
    data = _read(cache_file)
    data.setdefault(key, {})[result.space] = result.as_json()
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError as exc:  # a read-only cache only costs a new calibration next time
        log.warning("cannot save the embedding calibration to %s: %s", cache_file, exc)
