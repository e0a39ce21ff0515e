"""Template pools shared by all personas: market sentences, stances, holdings, fillers, synonyms."""

from __future__ import annotations

# ── Shared pools ────────────────────────────────────────────────────────────────────────────────
_AROUND: str = "{civarında|dolayında|seviyesinde|bandında}"
_TODAY: str = "{bugün|gün içinde|seans içinde|şu ana kadar}"
MARKET_UP: tuple[str, ...] = (
    "{T} {P}, {günlük|bugün} %{CHG} {artıda|yukarıda|primli}",
    "{T} {şu an|şu sıralar|an itibarıyla} {P} " + _AROUND + ", " + _TODAY + " %{CHG} {yukarıda|artıda}",
    "{T} günü %{CHG} {yükselişle|artışla|primle} {P} " + _AROUND + " {geçiriyor|sürdürüyor}",
    "{T} %{CHG} {primle|yükselişle} {P} {seviyesine çıktı|bandına tırmandı|üzerine yerleşti}",
    "{T} " + _TODAY + " %{CHG} {yükseldi|değer kazandı|prim yaptı}, {son fiyat|son işlem|ekrandaki fiyat} {P}",
    "{Ekranda|Tahtada|Kotasyonda} {T} {P}, %{CHG} {artıda|yukarıda|primli}",
    "{T} tarafında %{CHG} {artış|yükseliş|prim} {var|görülüyor}, {fiyat|son işlem} {P}",
    "{T} {sabahtan beri|açılıştan beri|öğleden beri} %{CHG} {yukarıda|artıda}, {P} {görülüyor|yazıyor}",
    "%{CHG} {yükselişle|artışla} {T} {P} " + _AROUND,
)
MARKET_DOWN: tuple[str, ...] = (
    "{T} {P}, {günlük|bugün} %{CHG} {ekside|aşağıda|geride}",
    "{T} {şu an|şu sıralar|an itibarıyla} {P} " + _AROUND + ", " + _TODAY + " %{CHG} {aşağıda|ekside}",
    "{T} günü %{CHG} {düşüşle|kayıpla|gerilemeyle} {P} " + _AROUND + " {geçiriyor|sürdürüyor}",
    "{T} " + _TODAY + " %{CHG} {geriledi|değer kaybetti|aşağı indi}, {son fiyat|son işlem|ekrandaki fiyat} {P}",
    "{Ekranda|Tahtada|Kotasyonda} {T} {P}, %{CHG} {ekside|aşağıda}",
    "{T} tarafında %{CHG} {kayıp|düşüş|geri çekilme} {var|görülüyor}, {fiyat|son işlem} {P}",
    "{T} {sabahtan beri|açılıştan beri|öğleden beri} %{CHG} {aşağıda|ekside}, {P} {görülüyor|yazıyor}",
    "{T} %{CHG} {satış baskısıyla|kayıpla} {P} {seviyesine indi|bandına geriledi}",
    "%{CHG} {düşüşle|kayıpla} {T} {P} " + _AROUND,
)
MARKET_FLAT: tuple[str, ...] = (
    "{T} {P} " + _AROUND + " {yatay|yerinde sayıyor}",
    "{T} {P} " + _AROUND + ", değişim %{CHG} ile yok denecek kadar az",
    "{T} neredeyse {yerinde sayıyor|kıpırdamıyor}, {fiyat|son işlem} {P}",
    "{Ekranda|Tahtada} {T} {P}, {günlük|gün içi} değişim {sadece|yalnızca} %{CHG}",
)
STANCE_FIRM: tuple[str, ...] = (
    "{T_ST} konusunda {görüşüm|fikrim} {belli|net}: {SV}.",
    "{T_ST} {deyince|denince} {aklıma ilk gelen|benim söylediğim} şu: {SV}.",
    "{Kendi adıma|Bana sorarsanız} {T_ST} tarafında {durum|mesele} şu: {SV}.",
    "{Hep|Her zaman} {söylediğim|tekrarladığım} şey {T_ST} için {geçerli|de geçerli}: {SV}.",
    "{T_ST} için {düşüncem|kanaatim} {değişmedi|aynı}: {SV}.",
    "{T_ST} {hakkında|üzerine} {net|açık} {konuşayım|söyleyeyim}: {SV}.",
)
STANCE_SOFT: tuple[str, ...] = (
    "{Emin değilim ama|Tam emin değilim ama} {T_ST} için {kafamdaki|aklımdaki} şu: {SV}.",
    "{T_ST} {konusunda|hakkında} {hâlâ düşünüyorum|kafam biraz karışık}, {şimdilik|şu an} {aklımdaki|içimden geçen} şu: {SV}.",
    "{T_ST} için {hissim|izlenimim} şu, {belki yanılıyorum|yanılıyor olabilirim}: {SV}.",
)
MEMORY_WRAP: tuple[str, ...] = (
    "{Aklıma geldi|Hatırladım da}, {MEM}.",
    "{Bu konuda|Böyle günlerde} hep {aklıma gelir|hatırlarım}: {MEM}.",
    "{Size bir şey anlatayım|Tecrübe konuşuyor}: {MEM}.",
)
"""A new post now and then tells of the bot's past (a seeded memory, first person, config.toml)."""
HOLDING: tuple[str, ...] = (
    "{Ben|Ben de} {HS} tarafında {HP} {seviyesinden|civarından} {almıştım|girmiştim}{PL}.",
    "{HS} için ortalama maliyetim {HP}{PL}.",
    "{Portföyümde|Elimde} {HS} var, {maliyetim|ortalamam} {HP}{PL}.",
    "{HS} pozisyonum duruyor, {maliyet|ortalama} {HP}{PL}.",
    "{HS} pozisyonum {hâlâ|şimdilik} yerinde ({NOTE}).",
)
SIG_WRAP: tuple[str, ...] = ("{SIG}.", "{SIG}!", "{Hep dediğim gibi|Ne diyorum hep|Bilirsiniz}, {sig}.", "{SIG}, {unutmayın|aklınızda olsun}.")
SIG_WRAP_Q: tuple[str, ...] = ("{SIG}?", "{Peki|Acaba} {sig}?")
MENTION_CLOSE: tuple[str, ...] = (
    "{N} {sen ne dersin|senin fikrin ne|bu konuda ne düşünüyorsun|sen nasıl görüyorsun}?",
    "{N}, {senin de|senin} {yorumunu|görüşünü} {merak ediyorum|bekliyorum}.",
    "{N} {buna da bir bak|bunu bir incele} {istersen|bence}.",
)
ECHO_UP: tuple[str, ...] = (
    "{Yükselişten|Artıştan} {bahsetmişsin|söz etmişsin}, {gördüm|ben de fark ettim}.",
    "{Yeşil|Artı} {tabloyu|günü} {sen de|demek sen de} görmüşsün.",
)
ECHO_DOWN: tuple[str, ...] = (
    "{Düşüşten|Satış baskısından} {bahsetmişsin|söz etmişsin}, {haklı bir endişe|anlıyorum}.",
    "{Kırmızı|Eksi} {tabloyu|günü} {sen de|demek sen de} görmüşsün.",
)
ECHO_Q: tuple[str, ...] = ("{Soruyu|Sorduğunu|Mesajını} {okudum|gördüm}.", "{Sorduğun|Bu} {konu|mesele} {önemli|çok soruluyor}.",
          "{Bunu|Bu soruyu} {çok kişi|herkes} {merak ediyor|soruyor}.")
DISCLAIMER: tuple[str, ...] = ("Yatırım tavsiyesi değildir{|, kendi fikrim|, kendi gözlemim}.",
              "Bu bir yatırım tavsiyesi değil, {sadece|yalnızca} {görüşüm|gözlemim|tecrübem}.",
              "{Kararı|Son kararı} {sen|kendin} {ver|vermelisin}, yatırım tavsiyesi değildir.",
              "{Unutma|Aklında olsun}, {herkesin|her yatırımcının} risk {durumu|profili} {farklı|başka}; yatırım tavsiyesi değildir.")
INTERJECTIONS: dict[str, tuple[str, ...]] = {
    "investor": ("Bak", "Şimdi", "Valla", "Evet"), "scalper": ("Ooo", "Valla", "Hey", "Bak"),
    "economist": ("Şimdi", "Bakın", "Hmm", "Evet"), "newbie": ("Aa", "Ooo", "Vay", "Hmm"),
    "chartist": ("Bak", "Şimdi"), "retiree": ("Ah", "Bak", "Ay"), "neutral": ("Şimdi", "Evet"),
}
FILLERS: dict[str, tuple[str, ...]] = {
    "investor": ("Bakın", "Şunu da ekleyeyim", "Açıkçası", "Bir de", "Unutmayın", "Bu arada", "Bana kalırsa",
                 "Tecrübeyle söylüyorum", "Dikkat edin"),
    "scalper": ("Bu arada", "Valla", "Ciddiyim", "Bak", "Açıkçası", "Hem de", "Bu arada söyleyeyim", "Şaka değil"),
    "economist": ("Açıkçası", "Bir de", "Altını çizeyim", "Bu arada", "Doğrusu", "Üstelik", "Hatırlatayım",
                  "Not düşeyim", "İşin aslı"),
    "newbie": ("Bu arada", "Bir de", "Aslında", "Açıkçası", "Bu arada söyleyeyim"),
    "chartist": ("Ayrıca", "Bir de", "Not edelim", "Bu arada", "Teknik açıdan"),
    "retiree": ("Bakın", "Bir de", "Aslında", "Benden söylemesi", "Bu arada", "Ah bir de"),
    "neutral": ("Bu arada", "Ayrıca", "Bir de"),
}

MARKET_LEAD: tuple[str, ...] = (
    "{Öğle arasında|Kahve molasında|Az önce|Biraz önce|Demin} {baktım|kontrol ettim|göz attım}",
    "{Şöyle bir|Hızlıca} {baktım|göz gezdirdim}",
    "{Ekrana|Tahtaya} {bir|şöyle bir} {göz attım|baktım}",
    "{Not edeyim|Bilgi olsun|Hatırlatayım}",
    "{Son durum|Son vaziyet} {şöyle|şu}",
    "{Rakamlara|Fiyatlara} {baktım|göz attım}",
    "{Telefondan|Uygulamadan} {kontrol ettim|baktım}",
)

# Drop-in word variants (template text only, never hint values); a guard lists neighbours that block
# a swap: (previous words, next words).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "ama": ("ama", "fakat", "ancak"), "bence": ("bence", "bana göre", "kanımca"),
    "önemli": ("önemli", "kritik", "mühim"), "sadece": ("sadece", "yalnızca"), "yalnızca": ("yalnızca", "sadece"),
    "lazım": ("lazım", "gerek"), "hep": ("hep", "her zaman"), "açıkçası": ("açıkçası", "doğrusu"),
    "aslında": ("aslında", "esasen"), "yine": ("yine", "gene"), "biraz": ("biraz", "birazcık"),
    "epey": ("epey", "hayli", "bayağı"), "güzel": ("güzel", "hoş"), "gerçekten": ("gerçekten", "cidden"),
    "şimdilik": ("şimdilik", "şu aşamada"), "belirleyici": ("belirleyici", "kritik", "etkili"),
    "bakalım": ("bakalım", "görelim"), "sonra": ("sonra", "ardından"), "şu an": ("şu an", "şu anda"),
    "kısaca": ("kısaca", "özetle", "kısacası"), "özetle": ("özetle", "kısaca"), "merhaba": ("merhaba", "selam"),
    "selam": ("selam", "merhaba"), "harika": ("harika", "süper", "şahane"), "hâlâ": ("hâlâ", "halen"),
    "zaten": ("zaten", "esasen"), "yükseliş": ("yükseliş", "çıkış"),
    "düşüş": ("düşüş", "geri çekilme"), "arkadaşlar": ("arkadaşlar", "dostlar"), "mantıklı": ("mantıklı", "makul"),
    "belki": ("belki", "belki de"), "çok": ("çok", "epey"), "şart": ("şart", "elzem"),
    "teşekkürler": ("teşekkürler", "sağ olun"), "takip ediyorum": ("takip ediyorum", "izliyorum"),
    "izliyorum": ("izliyorum", "takip ediyorum"), "dikkat çekiyor": ("dikkat çekiyor", "göze çarpıyor"),
    "fırsat": ("fırsat", "şans"), "bir göz attım": ("bir göz attım", "bir baktım", "göz gezdirdim"),
    "şu ana kadar": ("şu ana kadar", "şimdiye dek", "bu saate kadar"), "yavaş yavaş": ("yavaş yavaş", "ağır ağır"), "acele etmeyin": ("acele etmeyin", "aceleye gerek yok"),
}
SYN_GUARDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "çok": (frozenset({"kadar", "o", "en"}), frozenset({"kez", "şey", "kişi", "daha", "teşekkürler", "teşekkür",
                                                       "sevinirim", "sağ", "memnun"})),
    "hep": (frozenset(), frozenset({"de", "birlikte"})),
    "sonra": (frozenset({"ondan", "bundan", "daha", "ne"}), frozenset()),
    "belki": (frozenset(), frozenset({"de", "yanılıyorum"})),
    "fırsat": (frozenset({"toplama", "alım", "kademeli"}), frozenset({"demek", "bu", "bol", "bol!"})),
    "şart": (frozenset({"kes", "temkin", "dikkat"}), frozenset()),
}
