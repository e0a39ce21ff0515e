"""Turkish phrase tables for the offline text composer (see ``piyasa_core.llm.offline_text``)."""

# Template syntax: ``{a|b|c}`` picks one alternative (an empty alternative is allowed), ``{NAME}``
# fills a slot (T: topic, TH: topic long form, DRV: what drives the topic, P: price, CHG: percent,
# SUP/RES: support/resistance levels, RSIP: RSI phrase, YLD: dividend yield, N: name or @mention,
# VOC: the persona's vocative). A leading ``[kind,kind]`` limits a template to those topic kinds;
# ``asset`` = stock, index, fx, crypto, gold and ``macro`` = macro, rate, cb.
# Plain Turkish only: no tickers except through slots, no promises, no foreign words.

from __future__ import annotations

from piyasa_core.llm.phrases import economist, extras, investor, knowledge, newbie, scalper
from piyasa_core.llm.phrases.common import (
    DISCLAIMER,
    ECHO_DOWN,
    ECHO_Q,
    ECHO_UP,
    FILLERS,
    HOLDING,
    INTERJECTIONS,
    MARKET_DOWN,
    MARKET_FLAT,
    MARKET_LEAD,
    MARKET_UP,
    MEMORY_WRAP,
    MENTION_CLOSE,
    SIG_WRAP,
    SIG_WRAP_Q,
    STANCE_FIRM,
    STANCE_SOFT,
    SYN_GUARDS,
    SYNONYMS,
)
from piyasa_core.llm.phrases.market import (
    CRYPTO,
    DOWN_WORDS,
    DRIVERS,
    FX,
    INDICES,
    OTHER_SYMBOLS,
    PROPER,
    STOCK_SECTORS,
    THEMES,
    UP_WORDS,
)
from piyasa_core.llm.phrases.tuning import AGREE_P, DEFAULTS, EMOJI_WEIGHTS, SOFT_LEN

P: dict[str, dict[str, tuple[str, ...]]] = {
    "investor": investor.POOLS, "scalper": scalper.POOLS, "economist": economist.POOLS, "newbie": newbie.POOLS,
    "chartist": extras.CHARTIST, "retiree": extras.RETIREE, "neutral": extras.NEUTRAL,
}
"""Phrase pools by persona, then by section (open, up, down, flat, obs, aside, close, agree, ...)."""

__all__ = [
    "AGREE_P", "CRYPTO", "DEFAULTS", "EMOJI_WEIGHTS", "DISCLAIMER", "DOWN_WORDS", "DRIVERS", "ECHO_DOWN", "ECHO_Q", "ECHO_UP",
    "FILLERS", "FX", "knowledge", "HOLDING", "INDICES", "INTERJECTIONS", "MARKET_DOWN", "MARKET_FLAT", "MARKET_LEAD",
    "MARKET_UP", "MEMORY_WRAP", "MENTION_CLOSE", "OTHER_SYMBOLS", "P", "PROPER", "SIG_WRAP", "SIG_WRAP_Q", "SOFT_LEN",
    "STANCE_FIRM", "STANCE_SOFT", "STOCK_SECTORS", "SYNONYMS", "SYN_GUARDS", "THEMES", "UP_WORDS",
]
