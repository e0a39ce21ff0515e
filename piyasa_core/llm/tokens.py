"""Token counts estimated without a tokenizer, calibrated against a real one.

Turkish costs more tokens per character than English: measured with Meta's Llama 3 tokenizer (the
models Groq serves) on this engine's own prompts, one token holds ~2.8 characters (emoji and
typographic quotes cost 2–3 tokens each); OpenAI's o200k holds a little more. The estimate uses 2.7,
so a budget in estimated tokens is not exceeded in billed ones (``bench/tokens.py`` checks it with
the real tokenizer).
"""

from __future__ import annotations

CHARS_PER_TOKEN_X10 = 27
"""Characters per token × 10 (integer arithmetic keeps ``estimate_tokens`` and ``chars_within`` exact)."""
CHAT_OVERHEAD_TOKENS = 30
"""What a chat request adds around the texts: role headers, end-of-turn markers, and the date header
the Llama 3.1+ chat template puts into the system message (~20 tokens)."""


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text`` (at least 1)."""
    return len(text) * 10 // CHARS_PER_TOKEN_X10 + 1


def chars_within(tokens: int) -> int:
    """The most characters a text may have for ``estimate_tokens`` to stay within ``tokens``."""
    return max(0, (CHARS_PER_TOKEN_X10 * tokens - 1) // 10)


def estimate_chat_tokens(*texts: str) -> int:
    """Estimated prompt tokens of a chat request made of ``texts`` (template overhead included)."""
    return sum(estimate_tokens(t) for t in texts) + CHAT_OVERHEAD_TOKENS
