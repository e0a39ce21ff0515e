"""The sample snapshot's bots (tests, snapshot tests): the five sample personas with config.toml-like
hours, their state computed on the sample's clock exactly as the supervisor's roster does."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from piyasa_core.engine.pacing import Window
from piyasa_core.workers.roster import hours_state
from piyasa_core.workers.snapshot import BotView

ZONE = ZoneInfo("Europe/Istanbul")
# id, name, username, worker, active hours, prime hours, last text, stances, disabled by
SAMPLE_ROSTER = (
    (0, "Mehmet Yatırımcı", "mehmet_trader", 0, ("09:00-12:00", "14:00-17:00", "20:00-22:00"),
     ("10:00-11:00", "20:00-21:00"), "GARAN'da acele yok, 20 yılda gördüklerim bunu söylüyor",
     ("temettü: uzun vadede kazandırır (0.9)", "GARAN: bilanço güçlü (0.8)"), ""),
    (1, "Zeynep Yeni", "zeynep_newbie", 1, ("08:00-23:00",), ("12:00-13:00", "20:00-22:00"),
     "@ali_ekonomist enflasyon verisi bugün mü açıklanıyor? 😊", ("altın: güvenli liman (0.6)",), ""),
    (2, "Ali Ekonomist", "ali_ekonomist", 1, ("10:00-13:00", "15:00-18:00", "21:00-23:00"),
     ("10:00-11:00", "21:00-22:00"), "faiz kararı perşembe, piyasa fiyatladı bence",
     ("faiz: indirim gecikecek (0.7)", "enflasyon: yapışkan (0.8)"), ""),
    (3, "Ayşe Scalper", "ayse_scalp", 2, ("09:00-18:00",), ("10:00-12:00", "15:00-17:00"),
     "SISE alev alev, hacim geldi 🚀", ("BIST100: kısa vadede yukarı (0.6)",), ""),
    (4, "Can Teknik", "can_chartist", 3, ("09:00-18:00", "20:00-22:00"), ("10:00-12:00",),
     "BIST100 10 bin direnci kırılmadan ben yokum", ("BIST100: 10 bin direnç (0.7)",), "operator"),
)


def sample_bots(sim_now: float, *, hourly: tuple[int, int] = (10, 20)) -> tuple[BotView, ...]:
    """The sample roster at simulated ``sim_now`` (next turns and counts made up, stable)."""
    views = []
    for n, (bot_id, name, username, worker, active, prime, text, stances, off) in enumerate(SAMPLE_ROSTER):
        inside, change = hours_state([Window.parse(w) for w in active], sim_now, ZONE)
        state = "disabled" if off else "active" if inside else "away"
        running = state == "active" and worker != 2  # worker 2 is in backoff in the sample
        views.append(BotView(
            bot_id=bot_id, name=name, username=username, worker=worker, state=state, disabled_by=off,
            next_change=None if off else change, next_due=sim_now + 40 + 75 * n if running else None,
            sent_hour=(4 + 3 * n) % 13 if running else None, plan_per_hour=round(11.0 + 1.5 * n, 1) if running else None,
            hourly_min=hourly[0], hourly_max=hourly[1], active_hours=active, prime_hours=prime,
            last_at=sim_now - 35 * (n + 1), last_text=text, stances=stances))
    return tuple(views)
