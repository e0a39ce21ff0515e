"""Per-persona tuning: agreement odds, soft length targets, default watchlists and emoji."""

from __future__ import annotations

AGREE_P: dict[str, float] = {"investor": 0.65, "scalper": 0.7, "economist": 0.45, "newbie": 0.75,
                             "chartist": 0.55, "retiree": 0.6, "neutral": 0.6}
SOFT_LEN: dict[str, tuple[int, int]] = {
    "investor": (150, 250), "scalper": (70, 160), "economist": (140, 240), "newbie": (110, 210),
    "chartist": (120, 220), "retiree": (130, 230), "neutral": (100, 200),
}

EMOJI_WEIGHTS: dict[str, tuple[int, int, int]] = {
    "investor": (8, 2, 0), "scalper": (5, 3, 2), "economist": (8, 2, 0), "newbie": (6, 3, 1),
    "chartist": (7, 3, 0), "retiree": (7, 3, 0), "neutral": (7, 3, 0),
}
"""Odds of 0, 1 or 2 emoji in a message: people in a market group write most lines without one; the
scalper uses them most, the investor and the economist rarely (was 60–80 % of every persona's lines)."""

DEFAULTS: dict[str, dict[str, tuple[str, ...]]] = {
    "investor": {"watch": ("GARAN", "THYAO", "EREGL", "SAHOL"), "emoji": ("📊", "💼", "👍", "🤝")},
    "scalper": {"watch": ("SISE", "KCHOL", "ASELS", "BTCUSDT"), "emoji": ("🚀", "🔥", "⚡", "📈")},
    "economist": {"watch": ("USDTRY", "EURTRY", "enflasyon", "TCMB"), "emoji": ("📉", "⚠️", "💡", "🤔")},
    "newbie": {"watch": ("BIST30", "USDTRY", "altın"), "emoji": ("😊", "🙏", "❓", "📚")},
    "chartist": {"watch": ("GARAN", "KCHOL", "SASA", "BTCUSDT"), "emoji": ("📊", "🎯", "🔍")},
    "retiree": {"watch": ("GARAN", "AKBNK", "THYAO", "altın"), "emoji": ("😊", "☕", "🙏")},
    "neutral": {"watch": ("BIST100", "USDTRY", "altın"), "emoji": ("👍",)},
}
