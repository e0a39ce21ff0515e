"""Tokens per sent message (P4): the real engine path against the fake LLM server, every call counted.

One engine (pacing off, the 4 default personas, the default ``prompt_token_budget``) on SQLite in a
temporary data dir talks to the fake OpenAI/Groq server (``tests/fakes/llm_server.py``, started in this
process on 127.0.0.1) through the real SDK (``--provider groq`` or ``openai``, base URL pointed at the
fake). The fake answers with realistic replies (1–3 Turkish sentences, 150–300 characters; short
emoji/word reactions for the reaction mode; a ``--promise-rate`` share breaks the no-promise rule and
forces a retry) and reports ``usage`` for each. The chat starts with ``--prefill`` earlier messages so
every measured prompt has its real size from the first message on.

Every generate request the fake answered — first drafts, promise retries, paraphrase retries,
drafts that were thrown away — is counted and divided by the messages actually sent (status
``sent``). The fake's ``usage`` comes from a real tokenizer (``--tokenizer``, default: Llama 3 for
groq, o200k_base for openai; loaded offline by ``bench/real_tokens.py``, which says how to install
it), counted on the whole chat request with the model's chat template, the way the provider bills
it; the client reads it from each answer exactly as from the real API. ``--tokenizer chars4`` keeps
the fake's old character estimate (ceil(characters / 4)) for a machine without the tokenizers.

    .venv/bin/python bench/tokens.py [--messages 200] [--provider groq] [--tokenizer llama3] [--promise-rate 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from prompt_content import analyse, chat_messages, summary_lines  # noqa: E402
from real_tokens import NAMES, TokenizerMissing, prompt_counter  # noqa: E402
from real_tokens import load as load_tokenizer  # noqa: E402

from piyasa_core.llm.tokens import CHARS_PER_TOKEN_X10, CHAT_OVERHEAD_TOKENS, estimate_tokens  # noqa: E402

GOAL = 400
"""Issue 16: ≤ 400 Llama 3 tokens per sent message (from 604 at the older prompt; 700 was issue 9's)."""
# 10:05 in Istanbul (as the engine tests): every default persona is inside its active hours
SIM_START = datetime(2026, 11, 25, 10, 5, tzinfo=ZoneInfo("Europe/Istanbul")).timestamp()

# ── realistic replies ─────────────────────────────────────────────────────────────────────────────
_NEW_OPENERS = (
    "{t} tarafında bugün ilginç bir hareket var.",
    "Sabahtan beri {t} grafiğine bakıyorum, hacim dikkat çekici.",
    "{t} konusunda son verilere göz attım.",
    "Bugün {t} için açılış beklediğimden sakin geçti.",
    "Arkadaşlar {t} ile ilgili haberleri gördünüz mü?",
    "{t} son bir haftadır dar bir bantta gidip geliyor.",
    "Dün akşam {t} hakkında uzun bir rapor okudum.",
    "{t} için bu hafta önemli bir veri takvimi var.",
    "Öğle arasında {t} fiyatlarına bir baktım.",
    "{t} cephesinde herkes bir şey bekliyor gibi.",
)
_REPLY_OPENERS = (
    "Katılıyorum, ama bir noktayı atlamayalım.",
    "Açıkçası ben o kadar emin değilim.",
    "Güzel tespit, ben de benzer şeyi düşünüyordum.",
    "Burada biraz farklı düşünüyorum.",
    "Haklısın, {t} için tablo tam olarak böyle.",
    "Bence biraz acele ediyorsun.",
    "Bu yorumun mantıklı ama eksik kalan bir taraf var.",
    "Ben de aynı şeyi sabah fark ettim.",
    "İlginç bir bakış, hiç öyle düşünmemiştim.",
    "Yanılıyor olabilirim ama {t} için durum biraz daha karışık.",
)
_MIDDLES = (
    "Hacim dünkü ortalamanın üstünde ama alıcılar hâlâ temkinli davranıyor.",
    "Faiz kararı netleşmeden büyük pozisyon almak bana mantıklı gelmiyor.",
    "Kur tarafındaki oynaklık şirket bilançolarına da yansıyacak gibi duruyor.",
    "Enflasyon beklentileri düşmeden reel getiri bulmak epey zor.",
    "Ben portföyün küçük bir kısmıyla deniyorum, gerisini nakitte tutuyorum.",
    "Temettü takvimi yaklaşırken bu seviyeler uzun vadeli yatırımcıya fırsat olabilir.",
    "Dün akşamki haberden sonra satış baskısı biraz azaldı.",
    "Yabancı yatırımcı girişleri artarsa tablo hızla değişebilir.",
    "Bankacılık endeksi bu hafta piyasanın geri kalanından ayrıştı.",
    "Merkez bankasının açıklamalarını dikkatle okumak lazım, satır aralarında çok şey var.",
    "Geçen çeyrekte marjlar daraldı, bu çeyrek de benzer bir tablo bekliyorum.",
    "Altın tarafında jeopolitik riskler fiyatı destekliyor gibi.",
    "Kısa vadede dalgalanma sürebilir ama ana eğilim henüz bozulmadı.",
    "Ben stop seviyemi biraz aşağı çektim, acele etmeyeceğim.",
    "Maliyetim düşük olduğu için satmayı düşünmüyorum.",
    "Asıl soru, yılın ikinci yarısında iç talebin ne kadar güçlü kalacağı.",
    "Şirketin borçluluk oranı geçen yıla göre belirgin şekilde düştü.",
    "Bu fiyatlamada beklentilerin çoğu zaten içeride gibi görünüyor.",
    "Küçük yatırımcı genelde tepeden alıp dipte satıyor, ben o hataya düşmek istemiyorum.",
    "Gün içi hareketlere bakıp karar vermek bana göre değil.",
    "Önümüzdeki toplantıda sürpriz çıkmazsa piyasa biraz rahatlar.",
    "İhracatçı şirketler kurdaki yükselişten olumlu etkilenebilir.",
)
_CLOSERS = (
    "Siz ne düşünüyorsunuz?",
    "Acele etmeden izlemek lazım.",
    "Ben bir süre kenarda bekleyeceğim.",
    "Riskleri unutmamak lazım.",
    "Haftaya tekrar bakarız.",
    "Yine de herkes kendi risk iştahına göre karar vermeli.",
    "Bakalım kapanış nasıl olacak.",
    "Verilere göre hareket etmek en doğrusu.",
)
_REACTIONS = ("👍", "🔥 alev alev", "🤔 bakalım", "😊 teşekkürler", "📉 hmm", "aynen öyle 👍", "🙏", "🚀")
_PROMISE = "Bence {t} kesin yükselecek."
_TOPIC = re.compile(r"^Konu: (.+)$", re.MULTILINE)
_MENTION = re.compile(r"@(\w+) etiketini")
_EMOJI = re.compile(r"^Emoji 0-2, cümle sonunda: (.+)$", re.MULTILINE)


def compose_reply(system: str, user: str, rng: random.Random, promise_rate: float) -> str:
    """A plausible model answer for one request (Turkish, 1–3 sentences, 150–300 characters)."""
    topic = (m.group(1).strip() if (m := _TOPIC.search(user)) else "piyasa")
    mention = _MENTION.search(user)
    emoji = (m.group(1).split() if (m := _EMOJI.search(system)) else [])
    if "Görev: yalnızca çok kısa bir tepki" in user:
        text = rng.choice(_REACTIONS)
        return f"@{mention.group(1)} {text}" if mention else text
    openers = _REPLY_OPENERS if "Yanıtlayacağın mesaj" in user else _NEW_OPENERS
    target = rng.uniform(150, 300)  # the reply's length: the closest of a few drafts to a random target
    promise = rng.random() < promise_rate
    drafts = []
    for _ in range(12):
        opener, middles, closer = rng.choice(openers).format(t=topic), rng.sample(_MIDDLES, 2), rng.choice(_CLOSERS)
        parts = rng.choice(([opener, middles[0]], [opener, *middles], [opener, middles[0], closer], middles))
        if promise:
            parts = [parts[0], _PROMISE.format(t=topic), *parts[1:]][:3]
        drafts.append(" ".join(parts))
    fitting = [d for d in drafts if 150 <= len(d) <= 300] or drafts
    text = min(fitting, key=lambda d: abs(len(d) - target))
    if emoji and rng.random() < 0.5:
        text += " " + rng.choice(emoji)
    if mention and rng.random() < 0.85:  # models mostly follow the tagging instruction
        text = f"@{mention.group(1)} {text}"
    return text


def char_tokens(chars: int, per_token: float) -> int:
    return max(1, math.ceil(chars / per_token))


def message_texts(body: Any) -> list[str]:
    """The message contents of an OpenAI/Groq chat request body."""
    out = []
    for message in (body or {}).get("messages") or []:
        content = message.get("content")
        out.append(content if isinstance(content, str) else "".join(p.get("text", "") for p in content or ()))
    return out


# ── the run ───────────────────────────────────────────────────────────────────────────────────────
def make_fake(promise_rate: float, seed: int, tokenizer: Any | None) -> Any:
    """The fake server; ``tokenizer`` (a ``real_tokens.ChatTokenizer``) or None for ceil(characters / 4)."""
    from tests.fakes.llm_scenarios import estimate_prompt_tokens
    from tests.fakes.llm_server import FakeLLMServer

    class RealisticFake(FakeLLMServer):
        """The fake with realistic replies whose completion usage follows the reply's length."""

        def __init__(self) -> None:
            # advertised limits far above the run: the headers never make the router cool down
            super().__init__(advertised_limits={"rpm": 1_000_000, "tpm": 1_000_000_000},
                             count_prompt_tokens=prompt_counter(tokenizer) if tokenizer else estimate_prompt_tokens)
            self.texts: dict[int, str] = {}
            self.billed: dict[int, int] = {}  # completion tokens put in answer n's usage

        def _generate(self, api: Any, model: str, version: str, body: Any, headers: Any, query: Any,
                      now: float) -> Any:
            # called with the server lock held: setting the reply and its usage here is race-free
            n = self._n + 1
            texts = message_texts(body)
            system, user = (texts[0], texts[-1]) if len(texts) >= 2 else ("", "".join(texts))
            text = compose_reply(system, user, random.Random(seed * 1_000_003 + n), promise_rate)
            self.reply = text
            self.completion_tokens = tokenizer.completion(text) if tokenizer else char_tokens(len(text), 4)
            self.texts[n], self.billed[n] = text, self.completion_tokens
            return super()._generate(api, model, version, body, headers, query, now)

    return RealisticFake()


def prefill(config: Any, store: Any, count: int, seed: int) -> int:
    """``count`` earlier messages in the chat (round-robin authors); returns the highest id written."""
    from sqlalchemy import select

    from piyasa_core.engine import repo
    from piyasa_core.store.db import session_scope
    from piyasa_core.store.models import Chat

    with session_scope(store.sessions) as session:
        bots = repo.load_profiles(session)
        chat_id = session.scalar(select(Chat.id).where(Chat.enabled.is_(True)).order_by(Chat.id))
    rng = random.Random(seed)
    last = 0
    with store.engine.begin() as conn:
        for i in range(count):
            bot = bots[i % len(bots)]
            at = SIM_START - 60 * (count - i)
            user = f"Konu: {rng.choice(bot.watchlist or ('piyasa',))}\n" + ("Yanıtlayacağın mesaj" if i else "")
            text = compose_reply("", user, rng, 0.0)
            last = repo.insert_pending(conn, chat_id=chat_id, bot_id=bot.id, text=text, reply_to_id=None,
                                       worker_id=0, provider="prefill", model="prefill", tokens_in=0, tokens_out=0,
                                       tokens_cached=0, generation_seconds=0.0, created_at=at,
                                       meta={"topic": "piyasa", "mode": "new"})
            repo.mark_sent(conn, last, None, at)
    return last


async def run_engine(config: Any, store: Any, messages: int, timeout: float, seed: int) -> tuple[Any, list[int]]:
    from piyasa_core.engine.clock import SimClock
    from piyasa_core.engine.factory import build_engine

    engine = build_engine(config, store, worker_id=0, total=1, pacing=False, clock=SimClock(1.0, SIM_START),
                          seed=seed)
    estimated: list[int] = []
    original = engine.router.generate

    async def recording(request: Any, **kwargs: Any) -> Any:
        estimated.append(request.estimated_prompt_tokens)  # the engine's own estimate of the prompt
        return await original(request, **kwargs)

    engine.router.generate = recording  # type: ignore[method-assign]
    await engine.start()
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(stop))
    deadline = time.monotonic() + timeout
    while engine.counts["sent"] < messages and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.01)
    stop.set()
    await task
    await engine.router.aclose()
    return engine, estimated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", "-n", type=int, default=200, help="messages to send (default 200)")
    parser.add_argument("--provider", choices=["groq", "openai"], default="groq")
    parser.add_argument("--prefill", type=int, default=None,
                        help="earlier chat messages written before the run (default: [engine] history_lines)")
    parser.add_argument("--promise-rate", type=float, default=0.02,
                        help="share of replies that break the no-promise rule (forces a promise retry)")
    parser.add_argument("--tokenizer", choices=[*NAMES, "chars4"], default=None,
                        help="what the fake bills with (default: llama3 for groq, o200k_base for openai)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=int, default=None, metavar="TOKENS",
                        help="[engine] prompt_token_budget for the run (default: config.toml's)")
    parser.add_argument("--show-prompts", type=int, default=0, metavar="N",
                        help="print N captured prompts (system + user), spread over the run")
    parser.add_argument("--show-misses", type=int, default=0, metavar="N",
                        help="print N captured prompts that miss the history/stances/holdings goal")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    args = parser.parse_args()
    tokenizer_name = args.tokenizer or ("llama3" if args.provider == "groq" else "o200k_base")
    try:
        tokenizer = None if tokenizer_name == "chars4" else load_tokenizer(tokenizer_name)
    except TokenizerMissing as exc:
        print(f"bench/tokens.py: --tokenizer {tokenizer_name}: {exc}", file=sys.stderr)
        return 2
    usage_source = (f"fake: {tokenizer_name} tokenizer on the chat request and the reply" if tokenizer
                    else "fake: ceil(characters / 4), not a tokenizer")

    from sqlalchemy import func, select

    from piyasa_core.config import load_config
    from piyasa_core.store import open_store
    from piyasa_core.store.bootstrap import initialise
    from piyasa_core.store.db import session_scope
    from piyasa_core.store.models import Message

    folder = Path(tempfile.mkdtemp(prefix="piyasa-tokens-"))
    shutil.copy(ROOT / "config.toml", folder / "config.toml")
    cwd = os.getcwd()
    os.chdir(folder)
    fake = make_fake(args.promise_rate, args.seed, tokenizer)
    fake.start()
    name = args.provider.upper()
    for key in [k for k in os.environ if k.startswith("PIYASA_") or k in ("DATABASE_URL", "REDIS_URL", "LLM_PROVIDER")]:
        del os.environ[key]  # the run uses config.toml's defaults, whatever this shell has set
    os.environ.update({
        "LLM_PROVIDER": args.provider, "PIYASA_LLM__FALLBACK": "", "REDIS_URL": "",
        "PIYASA_DATA_DIR": str(folder / "data"),
        f"{name}_API_KEY": "gsk_bench_000000000000000000000" if name == "GROQ" else "sk-bench-0000000000000000",
        f"{name}_BASE_URL": fake.url if name == "GROQ" else fake.url + "/v1",
        # no budget of ours: pacing is off and this measures tokens, not the rate
        **{f"PIYASA_LLM__PROVIDERS__{name}__{k}": "0" for k in ("RPM", "TPM", "RPD", "TPD")},
        **({"PIYASA_ENGINE__PROMPT_TOKEN_BUDGET": str(args.budget)} if args.budget else {}),
    })
    try:
        config = load_config()
        initialise(config)
        store = open_store(config)
        history_lines = config.settings.engine.history_lines
        budget = config.settings.engine.prompt_token_budget
        first_id = prefill(config, store, history_lines if args.prefill is None else args.prefill, args.seed)
        started = time.perf_counter()
        engine, estimated = asyncio.run(run_engine(config, store, args.messages, args.timeout, args.seed))
        elapsed = time.perf_counter() - started
        with session_scope(store.sessions) as session:
            mine = (Message.id > first_id, Message.provider != "prefill")
            sent = session.scalar(select(func.count()).select_from(Message).where(*mine, Message.status == "sent"))
            failed = session.scalar(select(func.count()).select_from(Message).where(*mine, Message.status != "sent"))
            db_in, db_out = session.execute(select(func.coalesce(func.sum(Message.tokens_in), 0),
                                                   func.coalesce(func.sum(Message.tokens_out), 0))
                                            .where(*mine, Message.status == "sent")).one()
        store.dispose()
        requests = [r for r in fake.requests_for(args.provider) if r.kind == "generate"]
        ok = [r for r in requests if r.status == 200]
        chars_prompt = [sum(len(t) for t in message_texts(r.body)) for r in requests]
        chars_completion = [len(fake.texts[k]) for k in sorted(fake.texts)]
        prompts = [chat_messages(r.body) for r in requests]
        contents = [analyse(user, estimate_tokens(system) + estimate_tokens(user) + CHAT_OVERHEAD_TOKENS, budget)
                    for system, user in prompts]
        # the usage the fake put in its answers, and what the client read from them
        fake_prompt = sum(fake.count_prompt_tokens(args.provider, r.body) for r in ok)
        fake_completion = sum(fake.billed.values())
        ledger = [c for (_, provider, _), c in engine.router.ledger.totals.items() if provider == args.provider]
        prompt_total = sum(c.prompt_tokens for c in ledger)
        completion_total = sum(c.completion_tokens for c in ledger)
        client_calls = sum(c.requests for c in ledger)
        per_call_total = [fake.count_prompt_tokens(args.provider, r.body) + fake.billed[k]
                          for k, r in zip(sorted(fake.billed), requests, strict=False)]
        # how many characters one real token holds in the prompts sent (the engine's estimate assumes 3)
        chars_per_token = (sum(chars_prompt) / max(1, sum(fake.count_prompt_tokens(args.provider, r.body)
                                                           for r in requests)))
    finally:
        fake.stop()
        os.chdir(cwd)
        shutil.rmtree(folder, ignore_errors=True)

    counts = engine.counts
    calls = len(requests)
    per_msg = max(1, sent or 0)
    total_per_msg = (prompt_total + completion_total) / per_msg
    retries = {k: v for k, v in counts.items() if k.startswith(("retried", "paraphrased", "duplicate", "skipped"))}
    passed = bool(sent) and total_per_msg <= GOAL
    print(f"provider {args.provider} → fake LLM server (in-process, 127.0.0.1), pacing off, 4 personas, "
          f"prompt_token_budget {budget}, history_lines {history_lines}, chat prefilled with "
          f"{history_lines if args.prefill is None else args.prefill} messages, promise-breaking replies "
          f"{args.promise_rate:.0%}; {elapsed:.1f} s")
    print(f"messages sent: {sent} (not sent: {failed}); generate calls answered: {calls} ({len(ok)} ok)")
    if (sent or 0) < args.messages:
        print(f"WARNING: only {sent} of {args.messages} messages were sent within {args.timeout:g} s")
    print(f"calls per message: {calls / per_msg:.3f}  (retries and skips: "
          f"{', '.join(f'{k} {v}' for k, v in sorted(retries.items())) or 'none'})")
    print(f"reply length: median {statistics.median(chars_completion or [0]):.0f} characters "
          f"(min {min(chars_completion or [0])}, max {max(chars_completion or [0])}); prompt length: median "
          f"{statistics.median(chars_prompt or [0]):.0f} characters (max {max(chars_prompt or [0])})")
    print(f"usage: {usage_source}; read by the client from every answer ({client_calls} calls in the router's "
          f"ledger; the fake's own sum "
          f"{'agrees' if (fake_prompt, fake_completion) == (prompt_total, completion_total) else 'DIFFERS'})")
    print(f"prompt tokens/msg: {prompt_total / per_msg:.1f}  (engine's own estimate of the prompts it sent: "
          f"{sum(estimated) / per_msg:.1f}/msg, {statistics.mean(estimated or [0]):.1f} per call, "
          f"max {max(estimated or [0])})")
    print(f"completion tokens/msg: {completion_total / per_msg:.1f}")
    print(f"total tokens/msg: {total_per_msg:.1f}  (goal ≤ {GOAL}); max per call {max(per_call_total or [0])}")
    print(f"recorded on the sent messages (DB tokens_in + tokens_out): {(db_in + db_out) / per_msg:.1f}/msg "
          f"(calls whose draft was discarded are not on any message)")
    print(f"prompt characters per token: {chars_per_token:.2f} (the engine's estimate, llm/tokens.py, assumes "
          f"{CHARS_PER_TOKEN_X10 / 10:.1f}: its prompt estimates must not fall below what is billed)")
    for line in summary_lines(contents, budget):
        print(line)
    for i in range(args.show_prompts):
        system, user = prompts[i * len(prompts) // max(1, args.show_prompts)] if prompts else ("", "")
        print(f"── prompt {i + 1} ──\n[system]\n{system}\n[user]\n{user}")
    misses = [(prompt, c) for prompt, c in zip(prompts, contents, strict=True) if not c.meets_goal and not c.rewrite]
    for (system, user), c in misses[:args.show_misses]:
        print(f"── a prompt short of the goal ({c}) ──\n[user]\n{user}")
    print(f"{'PASS' if passed else 'FAIL'}: {total_per_msg:.1f} tokens per sent message (goal ≤ {GOAL})")
    print("RESULT " + json.dumps({
        "measure": "P4", "messages_sent": sent, "calls": calls, "calls_per_message": round(calls / per_msg, 3),
        "prompt_tokens_per_message": round(prompt_total / per_msg, 1),
        "completion_tokens_per_message": round(completion_total / per_msg, 1),
        "total_tokens_per_message": round(total_per_msg, 1), "max_tokens_per_call": max(per_call_total or [0]),
        "engine_estimated_prompt_tokens_per_message": round(sum(estimated) / per_msg, 1),
        "prompt_chars_per_token": round(chars_per_token, 2), "usage_source": usage_source,
        "tokenizer": tokenizer_name,
        "goal": GOAL, "passed": passed}, ensure_ascii=False))
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
