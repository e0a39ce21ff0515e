"""Instruments, topic themes, market drivers and mood words used to read and describe markets."""

from __future__ import annotations

# ── Instruments ─────────────────────────────────────────────────────────────────────────────────
STOCK_SECTORS: dict[str, str] = {
    "GARAN": "bank", "AKBNK": "bank", "YKBNK": "bank", "ISCTR": "bank", "HALKB": "bank",
    "VAKBN": "bank", "THYAO": "air", "PGSUS": "air", "EREGL": "steel", "KRDMD": "steel",
    "SAHOL": "holding", "KCHOL": "holding", "SISE": "glass", "ASELS": "defence", "SASA": "chem",
    "PETKM": "chem", "HEKTS": "chem", "TUPRS": "energy", "BIMAS": "retail", "MGROS": "retail",
    "FROTO": "auto", "TOASO": "auto", "TCELL": "telecom", "TTKOM": "telecom", "KOZAL": "mining",
    "ARCLK": "durables", "EKGYO": "property", "ENKAI": "holding", "TAVHL": "air",
}
INDICES: tuple[str, ...] = ("BIST30", "BIST100")
FX: tuple[str, ...] = ("USDTRY", "EURTRY")
CRYPTO: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
OTHER_SYMBOLS: tuple[str, ...] = ("XAUUSD", "TCMB")

DRIVERS: dict[str, tuple[str, ...]] = {
    "bank": ("faiz beklentileri", "net faiz marjı", "kredi büyümesi", "mevduat maliyetleri", "aktif kalitesi",
             "sermaye yeterliliği", "takipteki krediler"),
    "air": ("turizm sezonu", "yolcu trafiği", "yakıt fiyatları", "bilet fiyatları", "doluluk oranları",
            "kargo gelirleri"),
    "steel": ("çelik fiyatları", "küresel talep", "enerji maliyetleri", "ihracat siparişleri", "hurda fiyatları",
              "inşaat talebi"),
    "holding": ("iştiraklerin değeri", "holding iskontosu", "iştiraklerin bilançoları", "nakit pozisyonu",
                "portföy çeşitliliği"),
    "glass": ("ihracat siparişleri", "enerji maliyetleri", "avro bölgesi talebi", "doğal gaz fiyatları",
              "kapasite kullanımı"),
    "defence": ("ihracat sözleşmeleri", "sipariş defteri", "savunma bütçeleri", "teslimat takvimi",
                "yurt dışı ihaleler"),
    "chem": ("hammadde fiyatları", "kapasite artışı", "petrol fiyatları", "ürün marjları", "yatırım takvimi"),
    "energy": ("rafineri marjları", "petrol fiyatları", "akaryakıt talebi", "dizel marjları"),
    "retail": ("iç talep", "gıda enflasyonu", "mağaza büyümesi", "sepet büyüklüğü"),
    "auto": ("iç pazar satışları", "ihracat adetleri", "kredi koşulları", "avro bölgesi talebi"),
    "telecom": ("abone büyümesi", "tarife ayarlamaları", "yatırım harcamaları", "veri kullanımı"),
    "mining": ("ons fiyatı", "üretim miktarı", "maden ruhsatları", "maliyet enflasyonu"),
    "durables": ("iç talep", "avro bölgesi talebi", "kredi koşulları", "hammadde maliyetleri"),
    "property": ("konut satışları", "arsa ihaleleri", "konut kredisi faizleri", "inşaat maliyetleri"),
    "index": ("yabancı girişleri", "bankacılık endeksi", "şirket bilançoları", "küresel risk iştahı",
              "faiz beklentileri", "ülke risk primi", "yerli yatırımcı ilgisi"),
    "fx": ("cari açık", "reel faiz", "rezervler", "dış finansman ihtiyacı", "ihracat gelirleri",
           "turizm gelirleri", "dolarizasyon eğilimi"),
    "crypto": ("küresel likidite", "risk iştahı", "dolar likiditesi", "düzenleme haberleri", "fon girişleri",
               "borsa rezervleri"),
    "gold": ("ABD reel faizleri", "jeopolitik riskler", "merkez bankalarının altın alımları", "dolar endeksi",
             "fiziki talep"),
    "macro": ("gıda ve kira fiyatları", "enflasyon beklentileri", "ücret artışları", "hizmet enflasyonu",
              "enerji fiyatları", "kur geçişkenliği"),
    "rate": ("enflasyon beklentileri", "reel faiz", "kredi büyümesi", "politika faizi patikası", "mevduat faizleri"),
    "cb": ("enflasyon beklentileri", "rezervler", "para politikasının tutarlılığı", "iletişim dili",
           "politika faizi patikası"),
    "dividend": ("şirketlerin nakit akışı", "dağıtım oranları", "bilanço kalitesi", "borçluluk seviyesi",
                 "temettü geçmişi"),
    "technical": ("hacim ve fiyat ilişkisi", "ana destek seviyeleri", "piyasa psikolojisi", "işlem hacmi",
                  "kapanış fiyatları"),
    "generic": ("küresel risk iştahı", "faiz beklentileri", "şirket bilançoları", "kur hareketleri",
                "yabancı yatırımcı ilgisi"),
}

# ── Topic words ─────────────────────────────────────────────────────────────────────────────────
# theme word (lower case) -> (kind, canonical key)
THEMES: dict[str, tuple[str, str]] = {
    "enflasyon": ("macro", "enflasyon"), "tüfe": ("macro", "enflasyon"), "faiz": ("rate", "faiz"),
    "faizler": ("rate", "faiz"), "merkez bankası": ("cb", "TCMB"), "dolar": ("fx", "USDTRY"),
    "döviz": ("fx", "USDTRY"), "kur": ("fx", "USDTRY"), "euro": ("fx", "EURTRY"), "avro": ("fx", "EURTRY"),
    "altın": ("gold", "XAUUSD"), "gram altın": ("gold", "XAUUSD"), "bitcoin": ("crypto", "BTCUSDT"),
    "kripto": ("crypto", "BTCUSDT"), "ethereum": ("crypto", "ETHUSDT"), "bist": ("index", "BIST100"),
    "borsa": ("index", "BIST100"), "endeks": ("index", "BIST100"), "temettü": ("dividend", "temettü"),
    "teknik analiz": ("technical", "teknik analiz"), "teknik": ("technical", "teknik analiz"),
}
UP_WORDS: tuple[str, ...] = ("yüksel", "artı", "yukarı", "yeşil", "alev", "patladı", "rekor", "prim", "güçlü", "uçu")
DOWN_WORDS: tuple[str, ...] = ("düş", "eksi", "aşağı", "kırmızı", "sat", "geriled", "kayıp", "zarar", "çök")

PROPER: frozenset[str] = frozenset({"Bitcoin", "Ethereum", "Merkez", "Mehmet", "Ali", "Ayşe", "Zeynep", "Fatma",
                                    "Can", "Fed", "Borsa", "İstanbul", "Türkiye"})
