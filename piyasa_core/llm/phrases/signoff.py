"""Sign-offs: a person says goodbye only when leaving for a while. The composer uses these only when
the engine says the bot's next message falls outside its active hours (hint ``closing``)."""

from __future__ import annotations

SIGN_OFF: dict[str, tuple[str, ...]] = {
    "investor": (
        "{Bugünlük|Şimdilik} benden bu kadar, {hayırlı|bereketli} {seanslar|işlemler}.",
        "{Sağlıcakla kalın|Esen kalın}, sonra yine {bakarız|konuşuruz}.",
    ),
    "scalper": (
        "Ben {kaçtım|çıkıyorum}, {ekrandan kalkıyorum|mola zamanı}. {Bol kazançlar|Kolay gelsin}!",
        "{Şimdilik|Bugünlük} bu kadar, {pozisyonları|işlemleri} kapattım, sonra yazarım.",
    ),
    "economist": (
        "Benden şimdilik bu kadar, {veriler geldikçe|gelişmeler oldukça} yine yazarım.",
        "{Ayrılmam gerekiyor|Kalkmam lazım}, {sağlıcakla kalın|esen kalın}.",
    ),
    "newbie": (
        "Ben {çıkıyorum|kaçıyorum}, {cevap veren herkese teşekkürler|öğrettikleriniz için sağ olun}!",
        "Şimdilik bu kadar, sonra yine {sorarım|yazarım}.",
    ),
    "neutral": (
        "Şimdilik benden bu kadar, {görüşmek üzere|sonra görüşürüz}.",
    ),
}
"""Goodbye lines by persona (other personas use ``neutral``)."""
