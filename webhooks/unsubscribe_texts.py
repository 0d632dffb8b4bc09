"""Every string of the unsubscribe pages (``webhooks.unsubscribe``), in each language we send in.

Keys are ``<page>.<part>``: the pages are ``confirm`` (before the click), ``already`` (the
contact was opted out before), ``done`` (just unsubscribed), ``resubscribed`` and
``invalid`` (a link that does not verify); the parts are ``heading``, ``body``, ``note``
and ``button``, each optional per page. ``{shop}`` is the shop's name, inserted as plain
text and escaped by the template. In the Slavic languages and Kazakh the name sits in
quotes after the word "shop", so it never needs to be declined.
"""
from __future__ import annotations

LANGUAGES = ("en", "ru", "uk", "bg", "kk")
PARTS = ("heading", "body", "note", "button")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "confirm.heading": "Unsubscribe from cart reminders?",
        "confirm.body": "{shop} will stop sending cart reminders to this email address or your phone number, "
                        "for all of your carts.",
        "confirm.button": "Unsubscribe",
        "already.heading": "You are already unsubscribed",
        "already.body": "{shop} does not send cart reminders to this email address or your phone number.",
        "already.note": "Changed your mind? You can get reminders again.",
        "already.button": "Resubscribe",
        "done.heading": "You are unsubscribed",
        "done.body": "{shop} will no longer send cart reminders to this email address or your phone number, "
                     "for any of your carts.",
        "done.note": "Unsubscribed by mistake?",
        "done.button": "Resubscribe",
        "resubscribed.heading": "You are subscribed again",
        "resubscribed.body": "{shop} may send you reminders again about carts you leave from now on.",
        "invalid.heading": "This link is not valid",
        "invalid.body": "It may have been cut short or changed. Please open the unsubscribe link "
                        "from the email again.",
        "one_click": "You are unsubscribed.",
    },
    "ru": {
        "confirm.heading": "Отписаться от напоминаний о корзине?",
        "confirm.body": "Магазин «{shop}» перестанет присылать напоминания о корзине на этот адрес "
                        "электронной почты или ваш номер телефона — по всем вашим корзинам.",
        "confirm.button": "Отписаться",
        "already.heading": "Вы уже отписались",
        "already.body": "Магазин «{shop}» не присылает напоминания о корзине на этот адрес электронной "
                        "почты или ваш номер телефона.",
        "already.note": "Передумали? Вы можете снова получать напоминания.",
        "already.button": "Подписаться снова",
        "done.heading": "Вы отписались",
        "done.body": "Магазин «{shop}» больше не будет присылать напоминания о корзине на этот адрес "
                     "электронной почты или ваш номер телефона — ни по одной из ваших корзин.",
        "done.note": "Отписались по ошибке?",
        "done.button": "Подписаться снова",
        "resubscribed.heading": "Вы снова подписаны",
        "resubscribed.body": "Магазин «{shop}» снова сможет присылать вам напоминания о корзинах, "
                             "которые вы оставите в будущем.",
        "invalid.heading": "Эта ссылка недействительна",
        "invalid.body": "Возможно, она обрезана или изменена. Откройте ссылку для отписки из письма ещё раз.",
        "one_click": "Вы отписались.",
    },
    "uk": {
        "confirm.heading": "Відписатися від нагадувань про кошик?",
        "confirm.body": "Магазин «{shop}» припинить надсилати нагадування про кошик на цю електронну адресу "
                        "або ваш номер телефону — для всіх ваших кошиків.",
        "confirm.button": "Відписатися",
        "already.heading": "Ви вже відписалися",
        "already.body": "Магазин «{shop}» не надсилає нагадувань про кошик на цю електронну адресу "
                        "або ваш номер телефону.",
        "already.note": "Передумали? Ви можете знову отримувати нагадування.",
        "already.button": "Підписатися знову",
        "done.heading": "Ви відписалися",
        "done.body": "Магазин «{shop}» більше не надсилатиме нагадувань про кошик на цю електронну адресу "
                     "або ваш номер телефону — для жодного з ваших кошиків.",
        "done.note": "Відписалися помилково?",
        "done.button": "Підписатися знову",
        "resubscribed.heading": "Ви знову підписані",
        "resubscribed.body": "Магазин «{shop}» знову зможе надсилати вам нагадування про кошики, "
                             "які ви залишите надалі.",
        "invalid.heading": "Це посилання недійсне",
        "invalid.body": "Можливо, його обрізано або змінено. Відкрийте посилання для відписки з листа ще раз.",
        "one_click": "Ви відписалися.",
    },
    "bg": {
        "confirm.heading": "Искате ли да се отпишете от напомнянията за количката?",
        "confirm.body": "Магазин „{shop}“ ще спре да изпраща напомняния за количката на този имейл адрес "
                        "или на вашия телефонен номер — за всички ваши колички.",
        "confirm.button": "Отписване",
        "already.heading": "Вече сте отписани",
        "already.body": "Магазин „{shop}“ не изпраща напомняния за количката на този имейл адрес "
                        "или на вашия телефонен номер.",
        "already.note": "Размислихте ли? Можете отново да получавате напомняния.",
        "already.button": "Повторно абониране",
        "done.heading": "Отписахте се успешно",
        "done.body": "Магазин „{shop}“ вече няма да изпраща напомняния за количката на този имейл адрес "
                     "или на вашия телефонен номер — за нито една от вашите колички.",
        "done.note": "Отписахте се по погрешка?",
        "done.button": "Повторно абониране",
        "resubscribed.heading": "Отново сте абонирани",
        "resubscribed.body": "Магазин „{shop}“ отново може да ви изпраща напомняния за колички, "
                             "които оставите занапред.",
        "invalid.heading": "Тази връзка не е валидна",
        "invalid.body": "Възможно е да е съкратена или променена. Отворете отново връзката за отписване "
                        "от имейла.",
        "one_click": "Отписахте се успешно.",
    },
    "kk": {
        "confirm.heading": "Себет туралы еске салулардан бас тартасыз ба?",
        "confirm.body": "«{shop}» дүкені бұл электрондық пошта мекенжайына немесе телефон нөміріңізге "
                        "себет туралы еске салу жіберуді тоқтатады — барлық себеттеріңіз бойынша.",
        "confirm.button": "Жазылымнан бас тарту",
        "already.heading": "Сіз жазылымнан бұрын бас тартқансыз",
        "already.body": "«{shop}» дүкені бұл электрондық пошта мекенжайына немесе телефон нөміріңізге "
                        "себет туралы еске салу жібермейді.",
        "already.note": "Ойыңызды өзгерттіңіз бе? Еске салуларды қайта ала аласыз.",
        "already.button": "Қайта жазылу",
        "done.heading": "Сіз жазылымнан бас тарттыңыз",
        "done.body": "«{shop}» дүкені бұдан былай бұл электрондық пошта мекенжайына немесе телефон "
                     "нөміріңізге ешбір себетіңіз туралы еске салу жібермейді.",
        "done.note": "Қателесіп бас тарттыңыз ба?",
        "done.button": "Қайта жазылу",
        "resubscribed.heading": "Сіз қайта жазылдыңыз",
        "resubscribed.body": "«{shop}» дүкені бұдан кейін қалдырған себеттеріңіз туралы сізге қайтадан "
                             "еске салу жібере алады.",
        "invalid.heading": "Бұл сілтеме жарамсыз",
        "invalid.body": "Ол қысқартылған немесе өзгертілген болуы мүмкін. Хаттағы жазылымнан бас тарту "
                        "сілтемесін қайта ашыңыз.",
        "one_click": "Сіз жазылымнан бас тарттыңыз.",
    },
}


def page_texts(language: str, page: str, shop_name: str = "") -> dict[str, str]:
    """The parts of one page in one language, with the shop's name filled in."""
    texts = TEXTS[language]
    return {part: texts[f"{page}.{part}"].format(shop=shop_name)
            for part in PARTS if f"{page}.{part}" in texts}


def one_click_text(language: str) -> str:
    """The plain answer to a mailbox provider's one-click POST (rarely shown to anyone)."""
    return TEXTS[language]["one_click"]
