"""The hub's own spoken sentences (the domain's reply templates cover the rest), per language."""

from __future__ import annotations

from typing import Any

CURRENCY_WORDS = {
    "tr": {"TRY": "TL", "EUR": "avro", "USD": "dolar"},
    "en": {"TRY": "lira", "EUR": "euros", "USD": "dollars"},
}

PROMPTS: dict[str, dict[str, str]] = {
    "tr": {
        "help": (
            "Randevu alabilir, ürün sipariş edebilir, fiyat ve stok sorabilirsiniz. "
            "Örneğin: yarın saat üçte saç kesimi için randevu almak istiyorum."
        ),
        "cancelled": "Tamam, iptal ettim.",
        "timeout": "Sizi duyamadım, görüşmeyi kapatıyorum.",
        "ask_slot": "Lütfen {slot} bilgisini söyler misiniz?",
        "tentative": " Bu bilgi şu an kesin değil, bağlantı gelince teyit edeceğiz.",
        "stock": "{name} stokta var, {count} adet.",
        "stock_none": "Maalesef {name} şu an stokta yok.",
        "stock_untracked": "{name} satışta var.",
        "price": "{name} fiyatı {price}.",
        "ok": "Tamam.",
        "out_of_stock": "Maalesef {name} için yeterli stok yok, şu an {count} adet var.",
        "confirm_order": "{quantity} adet {name}, toplam {total}. Onaylıyor musunuz?",
        "slot_past": "Bu saat geçti. Başka bir saat söyler misiniz?",
        "slot_closed": "O saatte kapalıyız. Başka bir saat söyler misiniz?",
        "slot_full": "O saat dolu. Başka bir saat söyler misiniz?",
        "confirm_generic": "Onaylıyor musunuz?",
        "not_confirmed": "Tamam, işlemi yapmadım.",
        "order_placed": "Siparişinizi aldım, teşekkürler.",
        "booking_placed": "Randevu talebinizi aldım, teşekkürler.",
        "report_empty": "Kaydedilecek bir ölçüm yok.",
        "report_saved": "Rapor kaydedildi, {count} alan.",
        "noted": "Not aldım.",
        "money": "{amount} {currency}",
        "fallback": "Üzgünüm, sizi anlayamadım. Lütfen bir çalışanımıza danışın.",
        "not_understood": "Anlayamadım, tekrar söyler misiniz?",
        "unknown_offering": "Maalesef bunu bulamadım.",
    },
    "en": {
        "help": (
            "You can book an appointment, order products, or ask about prices and stock. "
            "For example: two shampoo, please."
        ),
        "cancelled": "Okay, cancelled.",
        "timeout": "I did not hear you, so I am closing this conversation.",
        "ask_slot": "Could you tell me the {slot}?",
        "tentative": " This is not final yet; we will confirm once we are back online.",
        "stock": "Yes, {name} is in stock, {count} left.",
        "stock_none": "Sorry, {name} is out of stock.",
        "stock_untracked": "Yes, we sell {name}.",
        "price": "{name} costs {price}.",
        "ok": "Okay.",
        "out_of_stock": "Sorry, there is not enough {name} in stock; {count} left.",
        "confirm_order": "{quantity} {name}, total {total}. Do you confirm?",
        "slot_past": "That time has passed. Could you say another time?",
        "slot_closed": "We are closed then. Could you say another time?",
        "slot_full": "That time is taken. Could you say another time?",
        "confirm_generic": "Do you confirm?",
        "not_confirmed": "Okay, I did not place it.",
        "order_placed": "Your order is placed. Thank you.",
        "booking_placed": "Your appointment request is placed. Thank you.",
        "report_empty": "There is nothing to save.",
        "report_saved": "Report saved with {count} fields.",
        "noted": "Noted.",
        "money": "{amount} {currency}",
        "fallback": "Sorry, I could not understand. Please ask a member of staff.",
        "not_understood": "Sorry, I did not catch that. Could you say it again?",
        "unknown_offering": "Sorry, I could not find that.",
    },
}


def prompt(language: str, key: str, **values: Any) -> str:
    table = PROMPTS.get(language, PROMPTS["en"])
    if key == "money":
        values["currency"] = CURRENCY_WORDS.get(language, {}).get(
            values["currency"], values["currency"]
        )
    text = table[key].format(**values)
    return text[:1].upper() + text[1:]
