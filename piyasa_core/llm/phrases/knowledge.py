"""What the personas know: answers by subject and question type, and each persona's way into them.

``FACTS[subject][qtype]``: subject is a concept (temettü, stop, enflasyon, …), an instrument key
(BIST30, USDTRY, …), an instrument kind (stock, index, fx, crypto, gold) or ``generic``; the composer
looks them up in that order, so a question about THYAO's dividend is answered from ``temettü`` and
keeps THYAO through the ``{T}`` slot. ``PERSONA_FACTS`` holds a persona's own answers in its field
(they come first for that persona). Slots as in the other tables, plus ``DIRW`` (how the quote moved
today: "yükseldi", "geriledi", "yatay") and ``W`` (an instrument from the bot's watchlist).
Facts are BIST practice as a Turkish group would tell it; no promises, no foreign words.
"""

from __future__ import annotations

FACTS: dict[str, dict[str, tuple[str, ...]]] = {
    "kaynak": {
        "which": ("ilk kaynak KAP bildirimleri, TCMB ve TÜİK duyuruları; günlük akış için bir iki ciddi ekonomi "
                  "sitesi yeter, sosyal medyadaki tüyolara itibar etme.",),
        "what": ("en sağlam kaynak şirketlerin KAP bildirimleri ve TÜİK, TCMB gibi resmi kurumların duyurularıdır; "
                 "yorumu sonra okursun.",),
        "how": ("önce KAP'ta takip ettiğin şirketleri listeye ekle, sonra TÜİK ve TCMB takvimini işaretle; haber "
                "kaynağı olarak bir iki ciddi site yeter.",),
    },
    "temettü": {
        "when": (
            "temettü genel kurulun onayladığı tarihte ödenir; BIST'te çoğu şirket nisan ile haziran arasında "
            "dağıtır, {T} için tarih KAP'taki kâr dağıtım duyurusunda yazar.",
            "hak kullanım gününden önceki gün kapanışta hisse elindeyse temettü sana düşer, para da ödeme günü "
            "aracı kurumdaki hesabına kendiliğinden yatar; tarihler genelde nisan-mayıs.",
        ),
        "what": ("temettü, şirketin kârından ortaklarına dağıttığı paydır; hisse başına brüt tutar KAP'ta duyurulur.",),
        "how_much": ("temettü verimi BIST'te genelde %2 ile %8 arasında olur; hisse başına tutarı şirketin KAP "
                     "duyurusu söyler, stopajı da düşmeyi unutma.",),
        "why": ("şirketler nakit fazlasını ortağa geri vermek için temettü dağıtır; bu yüzden nakit akışı güçlü "
                "şirketler daha düzenli öder.",),
        "how": ("temettü almak için hak kullanım tarihinden önce hisseyi alman yeter, sonra ödeme günü para "
                "hesabına kendiliğinden geçer.",),
        "yesno": ("bence sadece temettü için hisse almak mantıklı değil; ödeme günü fiyat temettü kadar düşer, "
                  "şirketin kârlılığına bakmak şart.",),
        "which": ("temettü için {W} gibi yıllardır düzenli dağıtan şirketlere bakarım, tek yıla değil geçmişe bakın.",),
    },
    "stop": {
        "what": ("zarar kes emri, fiyat belirlediğin seviyenin altına inince pozisyonu kendiliğinden satan emirdir; "
                 "kaybı önceden sınırlar.",),
        "how": ("önce kaldırabileceğin kaybı belirle, sonra zarar kes emrini girişin %2-3 altına ya da son desteğin "
                "biraz altına koy; aracı kurum uygulamasında şartlı emir olarak girilir.",),
        "how_much": ("zarar kesi girişin %2 ile %3 altına koyarım, çok oynak kâğıtlarda %5'e kadar açarım.",),
        "when": ("zarar kes emrini pozisyonu açtığın anda gir, sonra fiyat lehine gittikçe yukarı taşı.",),
        "why": ("zarar kes şart çünkü tek bir kötü işlemin hesabı eritmesini engeller, duyguyla karar vermeni önler.",),
        "yesno": ("bence zarar kes kullanmak şart, hele kısa vadede; koymayan er geç büyük bir kayıp yaşar.",),
    },
    "kaldıraç": {
        "how": ("kaldıraçlı işlemde teminatın kadar değil, katları kadar pozisyon açarsın; küçük bir ters hareket teminatı "
                "eritir, o yüzden düşük oran ve zarar kes şart.",),
        "what": ("kaldıraç, kendi paranın katları kadar pozisyon açmak demektir; kazancı da kaybı da aynı oranda "
                 "büyütür.",),
        "yesno": ("bence yeni başlayan kaldıraç kullanmamalı; 10 kat kaldıraçta %10'luk ters hareket parayı sıfırlar.",),
        "how_much": ("ben en fazla 2-3 kat kaldıraç kullanırım, 10 katta %10'luk ters hareket hesabı sıfırlar.",),
    },
    "rsi": {
        "what": ("RSI, son 14 günün kazanç ve kayıplarından hesaplanan bir göstergedir; 70 üstü aşırı alım, 30 altı "
                 "aşırı satım sayılır.",),
        "how": ("RSI'ya tek başına bakma; önce 14 günlük RSI 30 altına inip dönüyor mu ona bak, sonra hacimle teyit et.",),
    },
    "teknik analiz": {
        "what": ("teknik analiz, geçmiş fiyat ve hacim verisinden yön çıkarmaya çalışan yöntemdir; destek ve direnç "
                 "seviyeleri onun temelidir.",),
        "how": ("önce günlük grafikte destek ve direnci çiz, sonra hacme ve RSI'ya bakarak teyit ara.",),
        "yesno": ("bence teknik analiz tek başına yetmez ama giriş ve çıkış seviyesini belirlemeye yarar.",),
    },
    "halka arz": {
        "when": ("halka arzlar SPK onayından sonra duyurulur; talep toplama genelde 2-3 gün sürer, ilk işlem günü de "
                 "birkaç gün sonra gelir.",),
        "how": ("aracı kurum uygulamasında halka arz ekranından talep girersin, sonra dağıtım sonucunu bekleyip "
                "hesabına bakarsın.",),
        "yesno": ("bence her halka arza girmek mantıklı değil; izahnamedeki fon kullanım yerine bakmak şart.",),
    },
    "bilanço": {
        "when": ("bilançolar çeyrek kapanışından sonra açıklanır; yıllık sonuçlar genelde mart başına, çeyrekler ise "
                 "iki ay içinde KAP'ta olur.",),
        "what": ("bilanço, şirketin varlıklarını, borçlarını ve özkaynağını gösteren tablodur; kârı ise gelir tablosu "
                 "verir.",),
        "how": ("önce net kâra ve satış büyümesine bak, sonra borçluluğu ve nakit akışını karşılaştır.",),
    },
    "bedelsiz": {
        "how": ("bedelsizde şirket iç kaynaklarını sermayeye ekler, yeni hisseler hak kullanım günü hesabına kendiliğinden "
                "geçer, fiyat da oranında düzeltilir.",),
        "what": ("bedelsiz, şirketin iç kaynaklarını sermayeye ekleyip ortaklara ücretsiz hisse vermesi demektir; "
                 "şirketin değeri değişmez, hisse sayısı artar.",),
        "when": ("bedelsiz SPK onayından sonra dağıtılır; onay süreci genelde birkaç ay sürer.",),
    },
    "enflasyon": {
        "how": ("enflasyon yüksek gelirse faiz indirimi gecikir, kur ve altın yukarı, borsa baskı altına girer; beklentinin "
                "altında gelirse tersi olur.",),
        "when": ("TÜFE her ayın 3'ünde saat 10:00'da TÜİK tarafından açıklanır; 3'ü hafta sonuna denk gelirse ilk iş "
                 "günü gelir.",),
        "what": ("enflasyon, fiyatların genel seviyesindeki artıştır; bizde TÜİK'in açıkladığı TÜFE ile ölçülür.",),
        # a why-question about inflation asks its cause or its effect ("borsa neden etkileniyor?"): both
        "why": ("enflasyon yükselince faiz indirimi gecikir, çünkü TCMB sıkı kalır; bu yüzden borsa baskı görür, "
                "kur yukarı yönlenir. İnatçı olmasının nedeni de kira ve hizmet fiyatları.",),
        "how_much": ("aylık enflasyon son aylarda %1 ile %3 arasında geliyor; yıllık rakamı her ayın 3'ünde TÜİK "
                     "açıklıyor.",),
        "yesno": ("bence enflasyon düşüşü sürer ama yavaş; hizmet fiyatları inmeden hızlanmaz.",),
    },
    "faiz": {
        "how": ("faiz artınca mevduat ve tahvil cazipleşir, borsadan para çıkar, en çok bankalar ve borçlu şirketler "
                "etkilenir; indirim beklentisi ise endeksi destekler.",),
        "when": ("PPK yılda 8 kez toplanır; karar toplantı günü saat 14:00'te açıklanır, takvim TCMB'nin sitesinde.",),
        "what": ("politika faizi, TCMB'nin bankalara bir hafta vadeli borç verdiği orandır; mevduat ve kredi faizleri "
                 "buna göre şekillenir.",),
        "why": ("faiz kararında belirleyici olan {DRV}; TCMB enflasyon beklentileri düşmeden gevşemek istemiyor.",),
        "yesno": ("bence faiz indirimi gelir ama kademeli olur, enflasyon beklentileri inmeden hızlanmaz.",),
        "how_much": ("piyasa sonraki PPK'da 100 ile 250 baz puan arası bir adım bekliyor; kararın sonucunu 14:00'te "
                     "göreceğiz.",),
    },
    "veri takvimi": {
        "when": ("TÜFE her ayın 3'ünde 10:00'da, PPK kararları toplantı günü 14:00'te, ABD enflasyonu ayın ortasında "
                 "15:30'da gelir.",),
        "what": ("veri takvimi, enflasyon, faiz kararı, istihdam gibi verilerin açıklanacağı gün ve saatlerin "
                 "listesidir.",),
    },
    "seans": {
        "when": ("BIST seansı hafta içi saat 10:00'da açılır, 18:00'de kapanır; 18:00 ile 18:10 arası kapanış seansıdır.",),
        "what": ("seans, borsada emirlerin eşleştiği işlem saatleridir; BIST'te hafta içi 10:00 ile 18:00 arasıdır.",),
    },
    "BIST30": {
        "what": ("BIST30, Borsa İstanbul'da piyasa değeri ve işlem hacmi en yüksek 30 şirketin endeksidir; BIST100 "
                 "ise en büyük 100 şirketi kapsar.",),
        "why": ("BIST30 bugün %{CHG} {DIRW}; büyük bankalar ağırlıklı olduğu için belirleyici olan {DRV}.",),
    },
    "BIST100": {
        "what": ("BIST100, Borsa İstanbul'un en büyük 100 şirketinden oluşan ana endekstir.",),
        "when": ("BIST100 hafta içi 10:00 ile 18:00 arasında işlem görür; kapanış fiyatı 18:10'da belli olur.",),
    },
    "TCMB": {
        "when": ("TCMB faiz kararını PPK toplantı günü saat 14:00'te açıklar; yılda 8 toplantı var.",),
        "what": ("TCMB, Türkiye'nin merkez bankasıdır; politika faizini belirler ve fiyat istikrarından sorumludur.",),
    },
    "stock": {
        "how_much": ("{T} şu an {P}, bugün %{CHG} {DIRW}.",),
        "why": ("{T} bugün %{CHG} {DIRW}; bence nedeni {DRV} {tarafındaki gelişmeler|tarafındaki haber akışı}.",),
        "when": ("{T} bilançosunu çeyrek kapanışından sonra açıklar; yıllık sonuçlar mart başında, çeyrekler iki ay "
                 "içinde KAP'ta olur.",),
        "what": ("{T}, Borsa İstanbul'da işlem gören bir şirkettir; fiyatını en çok {DRV} belirler.",),
        "yesno": ("bence {T} için acele etmeden, kademeli almak mantıklı; belirleyici olan {DRV}.",),
        "how": ("{T} almak için aracı kurum uygulamasında hisseyi seçip alım emri girersin; önce ne kadar risk "
                "alacağını belirle.",),
    },
    "index": {
        "how_much": ("{T} şu an {P}, bugün %{CHG} {DIRW}.",),
        "why": ("{T} bugün %{CHG} {DIRW}; bence nedeni {DRV} {tarafındaki gelişmeler|tarafındaki haber akışı}.",),
        "when": ("BIST hafta içi 10:00'da açılır, 18:00'de kapanır; kapanış seansı 18:10'a kadar sürer.",),
        "how": ("endekse yatırım için önce bir aracı kurumda hesap aç, sonra endeks fonu ya da BIST30'daki büyük "
                "hisseleri seçerek başla.",),
        "yesno": ("bence {T} için kısa vadede {DRV} belirleyici, uzun vadede şirket kârları.",),
    },
    "fx": {
        "how": ("döviz almak için bankanın ya da aracı kurumun uygulamasından alış yapılır; alış-satış makası ve vergiler "
                "maliyete eklenir.",),
        "how_much": ("{T} şu an {P}, bugün %{CHG} {DIRW}.",),
        "why": ("{T} bugün %{CHG} {DIRW}; bence nedeni {DRV} tarafındaki gelişmeler, TCMB'nin duruşu da belirleyici.",),
        "when": ("döviz piyasası 7/24 işler ama asıl hareket hafta içi gündüz olur; TCMB kararları 14:00'te gelir.",),
        "what": ("{T}, bir birim dövizin kaç TL ettiğini gösteren kurdur; belirleyicisi {DRV}.",),
        "yesno": ("bence {T} tarafında sert sıçrama beklemiyorum, ama {DRV} bozulursa fikrim değişir.",),
    },
    "crypto": {
        "how": ("kripto için lisanslı bir borsada hesap açıp TL yatırarak alınır; büyük tutarları borsada değil kendi "
                "cüzdanında tutmak daha güvenli.",),
        "how_much": ("{T} şu an {P}, son 24 saatte %{CHG} {DIRW}.",),
        "why": ("{T} bugün %{CHG} {DIRW}; bence nedeni {DRV} {tarafındaki gelişmeler|tarafındaki haber akışı}.",),
        "when": ("kripto 7/24 işlem görür, hafta sonu da açık; ama hacim hafta içi ABD seansında artar.",),
        "what": ("Bitcoin, merkezi bir otoritesi olmayan dijital bir paradır; arzı 21 milyonla sınırlıdır.",),
        "yesno": ("bence {T} çok oynak; girilecekse küçük tutarla ve zarar kes emriyle girilir.",),
    },
    "gold": {
        "how": ("gram altın bankanın uygulamasından ya da kuyumcudan alınır; uygulamada makas dar, fizikide işçilik "
                "eklenir.",),
        "how_much": ("{T} şu an {P}, bugün %{CHG} {DIRW}.",),
        "why": ("altın bugün %{CHG} {DIRW}; bence nedeni {DRV} tarafındaki beklentiler, kur da gram fiyatı etkiliyor.",),
        "what": ("gram altın, ons fiyatının dolar/TL ile çevrilmiş hâlidir; bir ons 31,1 gram eder.",),
        "when": ("altın piyasası hafta içi neredeyse 24 saat açık; gram fiyat kurla birlikte gün boyu değişir.",),
        "yesno": ("bence altın birikimin bir kısmı için mantıklı, hepsi için değil; belirleyici olan {DRV}.",),
    },
    "generic": {
        "when": ("tarihleri şirketler KAP'ta, veriler TÜİK takviminde duyurulur; ben her ayın başında takvime bakarım.",),
        "how_much": ("{T} şu an {P}, bugün %{CHG} {DIRW}.",),
        "why": ("bence nedeni {DRV}; tek bir sebebe bağlamak zor.",),
        "how": ("önce ne kadar risk alabileceğini belirle, sonra küçük bir tutarla başlayıp adım adım ilerle.",),
        "which": ("ben olsam {W} ile başlardım, ama önce şirketin bilançosuna bak.",),
        "yesno": ("bence acele etmeye gerek yok; {DRV} netleşince karar vermek daha mantıklı.",),
    },
}

PERSONA_FACTS: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "investor": {
        "temettü": {"yesno": ("bence temettü hisseleri uzun vade için mantıklı; ben temettüyü yeniden hisseye "
                              "yatırırım, yıllar içinde etkisi büyüktür.",)},
        "stock": {"yesno": ("bence {T} uzun vadede tutulur ama tek seferde değil, kademeli alırım; belirleyici olan "
                            "{DRV}.",)},
    },
    "scalper": {
        "stock": {"yesno": ("bence {T} kısa vadede {DIRW}; destek {SUP}, altına inerse zarar keserim.",)},
        "crypto": {"yesno": ("bence {T} kısa vadede oynak; destek {SUP}, direnç {RES}, aradan işlem yaparım.",)},
        "stop": {"how": ("girer girmez zarar kes emrini %2 altına koyarım, fiyat lehime gidince yukarı taşırım; "
                         "uygulamada şartlı emirden girilir.",)},
    },
    "economist": {
        "fx": {"why": ("{T} bugün %{CHG} {DIRW}; verilere bakarsak nedeni {DRV}, reel faiz pozitif kaldıkça kur "
                       "daha sakin seyreder.",)},
        "faiz": {"yesno": ("bana göre indirim gelir ama veri bağımlı olur; TÜFE beklentinin altında gelirse adım "
                           "büyür.",)},
    },
}

LEADS: dict[str, dict[str, tuple[str, ...]]] = {
    "investor": {"any": ("{tecrübeme göre|yıllardır gördüğüm kadarıyla}", "{kısaca anlatayım|şöyle söyleyeyim}")},
    "scalper": {"any": ("{kısa söyleyeyim|hızlıca}", "{bak|şöyle}")},
    "economist": {"any": ("{kısaca|şöyle anlatayım}",), "when": ("{takvime bakarsak|takvime göre}",),
                  "why": ("{verilere bakarsak|rakamlara bakınca}",), "how_much": ("{verilere bakarsak|rakamlara göre}",)},
    "newbie": {"any": ("{ben de yeni öğrendim ama|yanlışım varsa düzeltin ama}",
                       "{okuduğum kadarıyla|öğrendiğim kadarıyla}")},
    "neutral": {"any": ("{kısaca|şöyle}",)},
}
"""A persona's ways into an answer, for any question and per question type (lower case; joined as
"{N}, {lead}, {fact}")."""

DUNNO: dict[str, tuple[str, ...]] = {
    "investor": ("{N}, açıkçası bunu tam bilmiyorum; bilmediğim konuda yorum yapmam, bilen biri yazarsa ben de okurum.",),
    "scalper": ("{N}, valla onu bilmiyorum, bilen varsa yazsın.",),
    "economist": ("{N}, bu konuda elimde sağlam bir veri yok, tahminle cevap vermeyeyim.",),
    "newbie": ("{N}, ben de bilmiyorum, ben de merak ettim.",),
    "neutral": ("{N}, bunu ben de bilmiyorum.",),
}
"""An honest "I don't know" for a question the persona has no answer to."""

THANKS: dict[str, tuple[str, ...]] = {
    "investor": ("{N}, rica ederim, ne demek.", "{N}, ne demek, sorusu olan her zaman yazsın."),
    "scalper": ("{N}, rica ederim!", "{N}, ne demek, bol kazançlar!"),
    "economist": ("{N}, rica ederim, veriyi takipte kalalım.", "{N}, ne demek, faydalı olduysa ne mutlu."),
    "newbie": ("{N}, asıl ben teşekkür ederim.", "{N}, rica ederim, ben de öğreniyorum."),
    "neutral": ("{N}, rica ederim.",),
}
GREET: dict[str, tuple[str, ...]] = {
    "morning": ("{N}, günaydın, hoş geldin.", "{N}, günaydın, kolay gelsin."),
    "day": ("{N}, merhaba, hoş geldin.", "{N}, selam, kolay gelsin."),
    "evening": ("{N}, iyi akşamlar, hoş geldin.", "{N}, merhaba, iyi akşamlar."),
}
