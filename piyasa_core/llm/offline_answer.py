"""Which templates answer a reply target: knowledge by subject and question type, thanks, greetings.

The offline composer asks here what to say first in a reply (``offline_text`` fills and checks it):
a question is answered from ``phrases.knowledge`` by its concept, its instrument, the instrument's kind
and then general knowledge, the persona's own answers first; a thank-you gets thanks back, a greeting a
greeting true at the hour. Anything else (news, an opinion, a statement) is not answered from here.
"""

from __future__ import annotations

from piyasa_core.llm.asks import Ask
from piyasa_core.llm.phrases import knowledge as kn

__all__ = ["CONCEPT_TOPIC", "answer_templates", "social_templates", "topic_of"]

CONCEPT_TOPIC: dict[str, str] = {
    "stop": "teknik analiz", "rsi": "teknik analiz", "kaldıraç": "teknik analiz", "halka arz": "borsa",
    "bilanço": "borsa", "bedelsiz": "borsa", "veri takvimi": "enflasyon", "seans": "borsa",
}
"""A concept that is no topic of its own → the topic its talk belongs to."""


def topic_of(ask: Ask) -> str | None:
    """The composer's topic for a message: its instrument, else its concept's topic, else None."""
    if ask.symbol:
        return ask.symbol
    if ask.concept:
        return CONCEPT_TOPIC.get(ask.concept, ask.concept)
    return None


def answer_templates(persona: str, ask: Ask, kind: str) -> list[tuple[str, ...]]:
    """Candidate fact templates for a question, best first: one tuple per source in the look-up
    chain (concept, instrument, instrument kind, general), the persona's own before the shared."""
    if not ask.is_question or ask.qtype is None:
        return []
    own = kn.PERSONA_FACTS.get(persona, {})
    out: list[tuple[str, ...]] = []
    for key in dict.fromkeys(k for k in (ask.concept, ask.symbol, kind, "generic") if k):
        for table in (own, kn.FACTS):
            found = table.get(key, {}).get(ask.qtype)
            if found:
                out.append(found)
    return out


def lead_templates(persona: str, qtype: str | None) -> tuple[str, ...]:
    """The persona's ways into an answer of this type."""
    leads = kn.LEADS.get(persona, kn.LEADS["neutral"])
    return leads.get(qtype or "any", ()) + leads["any"]


def social_templates(persona: str, ask: Ask, hour: float | None) -> tuple[str, ...]:
    """Thanks back for a thank-you, a greeting true at ``hour`` for a greeting; () otherwise."""
    if ask.act == "thanks":
        return kn.THANKS.get(persona, kn.THANKS["neutral"])
    if ask.act == "greeting":
        if hour is not None and 5 <= hour < 12:
            return kn.GREET["morning"]
        return kn.GREET["evening"] if hour is not None and hour >= 17 else kn.GREET["day"]
    return ()
