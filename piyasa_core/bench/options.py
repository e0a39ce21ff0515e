"""What a benchmark run is asked to do, validated the same way for the CLI, the TUI and the API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from piyasa_core.config.schema import parse_duration
from piyasa_core.engine.clock import check_start
from piyasa_core.errors import PiyasaError

FORMATS = ("json", "md", "html", "csv")
MAX_DURATION = 7 * 86400.0
OFFLINE = "offline"


class BenchInputError(PiyasaError, ValueError):
    """A bad benchmark option (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Profile:
    """A run's profile with the engine's values filled in: the pace the bots run at during the run
    and the throughput it is judged against (None: no such criterion)."""

    name: str
    description: str
    hourly_min: int
    hourly_max: int
    min_throughput_per_min: float | None
    target_throughput_per_min: float | None
    rhythm: bool = True  # the daily rhythm (engine/rhythm.py) applies during the run
    human_every: float | None = None  # simulated seconds between people's questions (bench/humans.py); None: none

    @property
    def overrides(self) -> dict[tuple[str | int, ...], Any]:
        """What the run's workers are configured with on top of the configuration."""
        return {("engine", "hourly_min"): self.hourly_min, ("engine", "hourly_max"): self.hourly_max,
                ("engine", "rhythm"): self.rhythm}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "hourly_min": self.hourly_min,
                "hourly_max": self.hourly_max, "min_throughput_per_min": self.min_throughput_per_min,
                "target_throughput_per_min": self.target_throughput_per_min, "rhythm": self.rhythm,
                "human_every_s": self.human_every}


def resolve_profile(config: Any, name: str, where: str = "profile") -> Profile:
    """The named `[benchmark.profiles.*]` with `[engine]` filling what it leaves out."""
    bench, engine = config.settings.benchmark, config.settings.engine
    if name not in bench.profiles:
        raise BenchInputError(f"{where}: {name!r} is not a profile; known: {', '.join(bench.profiles)}")
    given = bench.profiles[name]
    low = engine.hourly_min if given.hourly_min is None else given.hourly_min
    high = engine.hourly_max if given.hourly_max is None else given.hourly_max
    if low > high:
        raise BenchInputError(f"{where}: {name!r} gives hourly_min {low} above hourly_max {high} "
                              "([benchmark.profiles] with [engine])")
    rhythm = engine.rhythm if given.rhythm is None else given.rhythm
    return Profile(name, given.description, low, high, given.min_throughput_per_min, given.target_throughput_per_min,
                   rhythm, given.human_every)


@dataclass(frozen=True)
class BenchOptions:
    duration: float  # simulated seconds
    time_scale: float
    sample_every: float  # simulated seconds
    out_dir: Path  # runs go to <out_dir>/<run id>/; the timeline lives in <out_dir>
    formats: tuple[str, ...] = FORMATS
    start_at: str = "10:00"  # where the simulated clock starts ("HH:MM" today, ISO date and time, "" now)
    trigger: str = "cli"
    warmup: float = 60.0  # simulated seconds the workers run before the measured window opens
    profile: Profile = field(default_factory=lambda: Profile("seed", "", 50, 100, 4.0, 6.0, False))
    provider: str = OFFLINE  # the active provider the run generates with
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def real_seconds(self) -> float:
        return self.duration / self.time_scale


def _number(where: str, value: object, *, positive: bool = True) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise BenchInputError(f"{where}: {value!r} is not a number") from None
    if positive and not number > 0:
        raise BenchInputError(f"{where}: {value!r} must be greater than 0")
    return number


def _duration(where: str, value: object, *, allow_zero: bool = False) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise BenchInputError(f"{where}: {value!r}: {exc}") from None
    if not (0 <= seconds if allow_zero else 0 < seconds) or seconds > MAX_DURATION:
        raise BenchInputError(f"{where}: {value!r} must be {'0 or more' if allow_zero else 'more than 0'} "
                              "and at most 7 days")
    return seconds


def parse_duration_text(name: str, value: object) -> float:
    """A duration for a field called ``name`` (the TUI's dialog), or :class:`BenchInputError`."""
    return _duration(name, value)


def parse_formats(where: str, value: object) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else None
    if items is None:
        raise BenchInputError(f"{where}: {value!r} is not a list of formats ({', '.join(FORMATS)})")
    names = [str(i).strip().lower() for i in items if str(i).strip()]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise BenchInputError(f"{where}: unknown format {', '.join(map(repr, unknown)) or repr(value)}; "
                              f"choose from {', '.join(FORMATS)}")
    return tuple(dict.fromkeys(names))


def api_label(key: str) -> str:
    return f'benchmark field "{key}"'


def check_scale(where: str, scale: float, provider: str) -> None:
    """A networked provider answers in real time: on a scaled clock every call would last ``scale``
    times longer in simulated time, and the run would measure the clock, not the system."""
    if provider != OFFLINE and scale != 1:
        raise BenchInputError(
            f"{where}: {scale:g} with provider {provider!r}: it answers over the network in real time, so a "
            f"scaled clock would stretch every call ×{scale:g}; run at 1, or emulate its latency on the scaled "
            f"clock with --provider offline and [llm.providers.offline] latency_ms")


def resolve_options(config: Any, given: dict[str, Any], *, trigger: str,
                    label: Callable[[str], str] = api_label, provider: str | None = None) -> BenchOptions:
    """`[benchmark]` defaults overridden by ``given`` (CLI flags or the API's JSON body); every bad
    value raises :class:`BenchInputError` naming the option (``label(key)``) and the value.
    ``provider``: the active provider (the supervisor's, which the operator may have switched)."""
    bench = config.settings.benchmark
    known = {"duration", "time_scale", "sample_every", "out", "out_dir", "format", "formats", "start_at", "warmup",
             "profile", "human_every", "action"}
    unknown = sorted(set(given) - known)
    if unknown:
        raise BenchInputError(f"benchmark: unknown option {', '.join(map(repr, unknown))}; "
                              f"known: duration, time_scale, sample_every, out, formats, start_at, warmup, profile, "
                              "human_every")
    duration = _duration(label("duration"), given["duration"]) if given.get("duration") is not None \
        else bench.duration
    scale = _number(label("time_scale"), given["time_scale"]) if given.get("time_scale") is not None \
        else bench.time_scale
    if scale > 10000:
        raise BenchInputError(f"{label('time_scale')}: {scale:g} is above the limit of 10000")
    every = _duration(label("sample_every"), given["sample_every"]) if given.get("sample_every") is not None \
        else bench.sample_every
    if every > duration:
        raise BenchInputError(f"{label('sample_every')}: {every:g} s is longer than the run ({duration:g} s)")
    raw_out = given.get("out") or given.get("out_dir")
    out = Path(str(raw_out)).expanduser() if raw_out else (Path(bench.out_dir) if bench.out_dir
                                                             else config.data_dir / "bench")
    if out.exists() and not out.is_dir():
        raise BenchInputError(f"{label('out')}: {str(out)!r} exists and is not a directory")
    fmt = given.get("formats", given.get("format"))
    formats = parse_formats(label("formats"), fmt) if fmt is not None else FORMATS
    start_at = str(given["start_at"]) if given.get("start_at") is not None else bench.start_at
    try:
        start_at = check_start(start_at)
    except ValueError as exc:
        raise BenchInputError(f"{label('start_at')}: {exc}") from None
    warmup = _duration(label("warmup"), given["warmup"], allow_zero=True) if given.get("warmup") is not None \
        else bench.warmup
    profile = resolve_profile(config, str(given["profile"]) if given.get("profile") is not None else bench.profile,
                              label("profile"))
    if given.get("human_every") is not None:
        every_q = str(given["human_every"]).strip().lower()
        human = None if every_q in ("0", "off", "none") else _duration(label("human_every"), given["human_every"])
        if human is not None and human > duration:
            raise BenchInputError(f"{label('human_every')}: {human:g} s is longer than the run ({duration:g} s)")
        profile = replace(profile, human_every=human)
    active = provider or config.settings.llm.active
    check_scale(label("time_scale"), scale, active)
    return BenchOptions(duration=duration, time_scale=scale, sample_every=every, out_dir=out, formats=formats,
                        start_at=start_at, trigger=trigger, warmup=warmup, profile=profile, provider=active)
