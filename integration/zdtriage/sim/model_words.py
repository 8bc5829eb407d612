"""Word lists and reply templates of the model stand-in (:mod:`zdtriage.sim.model`).

Lower-case; a list entry with a space is matched as a phrase, any other as a whole word.
Languages: en, de, fr, es.
"""

from __future__ import annotations


class Words:
    """A keyword list: single words are looked up per token, phrases found by substring."""

    def __init__(self, *phrases: str) -> None:
        self.words = frozenset(p for p in phrases if " " not in p)
        self.phrases = tuple(p for p in phrases if " " in p)


CATEGORY_KEYS = ("billing", "technical", "account", "feature-request")
CATEGORY_WORDS = (
    Words(
        "invoice", "invoices", "charge", "charged", "charges", "refund", "refunds", "payment", "payments",
        "billing", "billed", "bill", "subscription", "receipt", "credit card", "pricing", "overcharged",
        "rechnung", "rechnungen", "zahlung", "abbuchung", "rückerstattung", "erstattung", "abgebucht", "abo",
        "facture", "factures", "paiement", "remboursement", "prélèvement", "facturation", "abonnement",
        "factura", "facturas", "pago", "cobro", "cobrado", "reembolso", "cargo", "suscripción",
    ),
    Words(
        "error", "errors", "bug", "bugs", "crash", "crashes", "crashed", "broken", "500", "502", "503",
        "exception", "not working", "doesn't work", "does not work", "timeout", "fails", "failed", "failing",
        "outage", "is down", "slow", "api", "sync", "stack trace",
        "fehler", "absturz", "stürzt", "abgestürzt", "funktioniert nicht", "kaputt", "fehlermeldung",
        "erreur", "plantage", "plante", "panne", "ne fonctionne pas", "bloqué", "bogue",
        "fallo", "falla", "no funciona", "caído", "se cierra", "se bloquea",
    ),
    Words(
        "login", "log in", "sign in", "password", "2fa", "two-factor", "mfa", "locked out", "account",
        "username", "reset link", "verification code",
        "passwort", "kennwort", "anmeldung", "anmelden", "einloggen", "konto", "gesperrt", "zugang",
        "mot de passe", "connexion", "connecter", "compte", "identifiant",
        "contraseña", "cuenta", "iniciar sesión", "acceso", "usuario",
    ),
    Words(
        "would be great", "would be nice", "feature", "feature request", "please add", "could you add",
        "suggestion", "it would help", "roadmap", "wish list", "dark mode", "integration with",
        "wäre toll", "wäre schön", "wäre super", "funktion", "vorschlag", "bitte fügen", "wunsch",
        "ce serait bien", "ce serait génial", "fonctionnalité", "pourriez-vous ajouter",
        "sería genial", "sería bueno", "función", "sugerencia", "podrían añadir",
    ),
)
URGENT = Words(
    "urgent", "urgently", "asap", "emergency", "outage", "is down", "are down", "production", "critical",
    "immediately", "right now", "all users", "sofort", "dringend", "notfall", "ausfall", "urgence",
    "immédiatement", "critique", "urgente", "inmediato", "inmediatamente", "caído",
)
CALM = Words(
    "thanks", "thank you", "question", "quick question", "wondering", "how do i", "how can i", "just curious",
    "danke", "frage", "merci", "question rapide", "gracias", "pregunta",
)
ANGRY = Words(
    "unacceptable", "ridiculous", "worst", "cancel", "furious", "scam", "disgusting", "wtf", "damn", "shit",
    "fuck", "crap", "useless", "inakzeptabel", "unverschämt", "kündigen", "frechheit", "scheiße", "scheisse",
    "inacceptable", "inadmissible", "scandaleux", "résilier", "merde", "inaceptable", "vergonzoso",
    "cancelar", "mierda", "estafa",
)
NEGATIVE = Words(
    "problem", "issue", "frustrated", "frustrating", "disappointed", "annoyed", "again", "still", "unable",
    "can't", "cannot", "wrong", "twice", "leider", "enttäuscht", "problème", "malheureusement", "déçu",
    "problema", "desafortunadamente", "decepcionado", "no puedo", "ne peux pas", "kann nicht",
)
POSITIVE = Words(
    "thanks", "thank you", "great", "love", "awesome", "appreciate", "excellent", "amazing", "danke", "super",
    "toll", "merci", "génial", "parfait", "gracias", "excelente", "genial",
)
STOPWORDS = {
    "en": {"the", "and", "is", "to", "my", "you", "not", "can", "please", "with", "this", "have", "it", "for",
           "i", "we", "our", "was", "are", "your", "hi", "hello"},
    "de": {"der", "die", "das", "und", "ist", "nicht", "ich", "mit", "sie", "ein", "eine", "bitte", "zu",
           "auf", "für", "wir", "mein", "meine", "kann", "haben", "hallo", "es", "den", "dem"},
    "fr": {"le", "la", "les", "et", "est", "je", "pas", "vous", "une", "des", "pour", "avec", "mon", "ma",
           "nous", "merci", "ne", "sur", "que", "bonjour", "mes", "du", "au", "il"},
    "es": {"el", "la", "los", "las", "y", "es", "no", "que", "por", "para", "con", "mi", "una", "un",
           "gracias", "hola", "está", "pero", "como", "tengo", "mis", "del", "al", "se"},
}
# configured category names (lower-case, "-" for "_" and " ") → the keyword list that scores them
CANONICAL_CATEGORIES = {
    "billing": "billing", "payment": "billing", "payments": "billing", "invoice": "billing",
    "invoicing": "billing", "technical": "technical", "tech": "technical", "bug": "technical",
    "technical-issue": "technical", "account": "account", "login": "account", "access": "account",
    "feature-request": "feature-request", "feature": "feature-request", "feature-requests": "feature-request",
    "product-feedback": "feature-request", "feedback": "feature-request",
}

# language → (greetings, thanks naming {subject}, a sentence per category, closing)
DRAFTS = {
    "en": (
        ("Hello,", "Hi there,"),
        'thank you for contacting us about "{subject}".',
        {
            "billing": "I have passed your billing question to our accounts team, who will check the charges.",
            "technical": "Our engineers are looking into the problem you reported.",
            "account": "We can help you get back into your account; please confirm the e-mail address you use.",
            "feature-request": "Thank you for the suggestion; I have shared it with our product team.",
            "other": "We are reviewing your message.",
        },
        "We will get back to you shortly.\nBest regards",
    ),
    "de": (
        ("Hallo,", "Guten Tag,"),
        "vielen Dank für Ihre Nachricht zu „{subject}“.",
        {
            "billing": "Ich habe Ihre Frage zur Rechnung an unsere Buchhaltung weitergegeben.",
            "technical": "Unsere Technik untersucht das gemeldete Problem.",
            "account": "Wir helfen Ihnen gern, wieder Zugang zu Ihrem Konto zu bekommen.",
            "feature-request": "Danke für den Vorschlag, ich habe ihn an unser Produktteam weitergeleitet.",
            "other": "Wir prüfen Ihr Anliegen.",
        },
        "Wir melden uns in Kürze.\nViele Grüße",
    ),
    "fr": (
        ("Bonjour,", "Bonjour,"),
        "merci de nous avoir contactés au sujet de « {subject} ».",
        {
            "billing": "J'ai transmis votre question de facturation à notre service comptable.",
            "technical": "Nos ingénieurs examinent le problème que vous avez signalé.",
            "account": "Nous pouvons vous aider à retrouver l'accès à votre compte.",
            "feature-request": "Merci pour la suggestion, je l'ai transmise à notre équipe produit.",
            "other": "Nous examinons votre message.",
        },
        "Nous revenons vers vous rapidement.\nCordialement",
    ),
    "es": (
        ("Hola,", "Buenos días,"),
        "gracias por escribirnos sobre «{subject}».",
        {
            "billing": "He enviado su consulta de facturación a nuestro equipo de cuentas.",
            "technical": "Nuestros ingenieros están revisando el problema que nos indicó.",
            "account": "Podemos ayudarle a recuperar el acceso a su cuenta.",
            "feature-request": "Gracias por la sugerencia, la he compartido con nuestro equipo de producto.",
            "other": "Estamos revisando su mensaje.",
        },
        "Le responderemos en breve.\nSaludos cordiales",
    ),
}
