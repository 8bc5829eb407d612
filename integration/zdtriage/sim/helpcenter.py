"""The simulated account's Help Center (issue 21): articles in several locales, drafts, an article restricted to
a user segment, archiving, and the incremental article export.

What the export does, and where that comes from:

* ``GET /api/v2/help_center/incremental/articles.json?start_time=`` (DESIGN §7; developer.zendesk.com
  "Understanding incremental article exports"): agents and admins only, up to 1,000 articles a page, every
  article whose metadata changed at or after ``start_time``, oldest first; ``next_page`` carries the next
  ``start_time``, which is also the page's ``end_time`` (the time of the last article's change).
* Drafts are exported with ``draft: true`` (the article JSON format: "True if the translation for the current
  locale is a draft"); so are articles restricted to a user segment (``user_segment_id`` set).
* **Archived and deleted articles are simply absent**, with no status to tell (dust-tt/dust#8656, a live
  account); the last page has ``next_page: null``, and an empty page answered ``end_time: 1`` there.
* One object per article and locale (a translation is the same id in another locale, its ``html_url`` under
  ``/hc/<locale>/``). Whether the real export lists every translation or only the source locale is not
  documented: the simulator lists every translation, and the service stores ``(id, locale)`` either way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from zdtriage.sim.server import Request, Response
from zdtriage.sim.zendesk_store import ApiError

EXPORT_MAX_PER_PAGE = 1000  # "The endpoint returns up to 1,000 articles per page"
HC_HOST = "https://example.zendesk.com"  # html_url host (fixtures/real scrub the subdomain to "example")
_DAY = 86_400

# topic id → {locale: (title, body)}: written for the simulator; each corpus ticket template names its topic
# (corpus.article_for). The words overlap the tickets' the way a real Help Center's do: partly.
TOPICS: dict[int, dict[str, tuple[str, str]]] = {
    360001: {
        "en-us": ("Duplicate charges: getting a refund for a double payment",
                  "If you see the same charge twice on your card or bank statement, for example two payments for your "
                  "plan in the same month, the second payment is refunded automatically to the card it came from "
                  "within 5 to 10 business days. Refunds of duplicate charges never need a new payment method. Reply "
                  "with the last four digits of the card and the invoice numbers if it has not arrived by then."),
        "de": ("Doppelte Abbuchung: Erstattung einer doppelten Zahlung",
               "Wurde derselbe Betrag zweimal abgebucht, erstatten wir die zweite Abbuchung automatisch innerhalb von "
               "5 bis 10 Werktagen auf das Konto oder die Karte, von der sie kam. Bitte nennen Sie uns die "
               "Rechnungsnummer, falls die Erstattung bis dahin nicht eingegangen ist."),
        "fr": ("Prélèvement en double : obtenir le remboursement",
               "Si vous avez été prélevé deux fois du même montant, le second prélèvement est remboursé "
               "automatiquement sous 5 à 10 jours ouvrés sur le moyen de paiement d'origine. Indiquez-nous le "
               "numéro de facture si le remboursement n'est pas arrivé."),
        "es": ("Cobro duplicado: cómo recibir el reembolso",
               "Si le hemos cobrado dos veces el mismo importe, devolvemos el cargo duplicado automáticamente en 5 a "
               "10 días hábiles a la tarjeta o cuenta de origen. Indíquenos el número de factura si el reembolso no "
               "ha llegado."),
    },
    360002: {
        "en-us": ("Refunds after cancelling a subscription",
                  "When you cancel a subscription, you keep access until the end of the billing period. Annual plans "
                  "cancelled within 30 days get a prorated refund of the unused months; monthly plans are not "
                  "refunded. If you were billed after cancelling, we refund that charge and send a corrected invoice."),
    },
    360003: {
        "en-us": ("Correcting an invoice: VAT number, company name and address",
                  "Admins can change the company name, billing address and VAT number under Settings > Billing. "
                  "Invoices issued afterwards use the new details. For an invoice already issued, ask us for a "
                  "corrected invoice and tell us the invoice number; we issue it within two business days."),
        "de": ("Rechnung korrigieren: USt-IdNr., Firmenname und Anschrift",
               "Admins ändern Firmenname, Rechnungsanschrift und USt-IdNr. unter Einstellungen > Abrechnung. Für eine "
               "bereits ausgestellte Rechnung senden wir auf Anfrage eine korrigierte Rechnung mit der "
               "Rechnungsnummer innerhalb von zwei Werktagen."),
        "fr": ("Corriger une facture : numéro de TVA, raison sociale et adresse",
               "Les administrateurs modifient la raison sociale, l'adresse et le numéro de TVA intracommunautaire dans "
               "Paramètres > Facturation. Pour une facture déjà émise, demandez une facture rectificative en "
               "indiquant son numéro."),
        "es": ("Corregir una factura: CIF, razón social y dirección",
               "Los administradores cambian la razón social, la dirección y el CIF en Ajustes > Facturación. Para una "
               "factura ya emitida, pídanos una factura rectificativa indicando su número."),
    },
    360004: {
        "en-us": ("Understanding your bill and its line items",
                  "Your bill lists one line per seat, add-on and usage charge. A bill can go up without new seats when "
                  "a discount ends, when usage above the plan is charged, or when prices change at renewal (announced "
                  "30 days ahead). The invoice shows each line item with its period."),
    },
    360005: {
        "en-us": ("Troubleshooting errors: HTTP 500, 504 gateway timeouts and failed requests",
                  "Requests that fail with HTTP 500 Internal Server Error, 504 Gateway Timeout or an upstream request "
                  "timeout are usually temporary. Check status.example.com for an incident, retry with backoff, and "
                  "send us the request id shown with the error so we can trace it. Errors on every request since a "
                  "given time point to an incident on our side."),
        "de": ("Fehlermeldungen beheben: Export bricht mit Fehler ab",
               "Bricht ein Export oder eine Anfrage mit einer Fehlermeldung ab, liegt meist eine vorübergehende "
               "Störung vor. Prüfen Sie die Statusseite, versuchen Sie es erneut und senden Sie uns die angezeigte "
               "Fehlermeldung."),
        "es": ("Solucionar errores al guardar o al enviar cambios",
               "Si al guardar un proyecto aparece un error, suele ser una incidencia temporal. Consulte la página de "
               "estado, vuelva a intentarlo y envíenos el error que aparece y el navegador que usa."),
    },
    360006: {
        "en-us": ("The app crashes on startup after an update",
                  "If the app crashes right after the splash screen since an update, update your phone's operating "
                  "system, clear the app cache, then reinstall the app. If it still crashes on startup, send us the "
                  "crash report, your device model and the app version."),
        "de": ("Die App stürzt nach dem Öffnen ab",
               "Stürzt die App seit einem Update direkt nach dem Öffnen ab, aktualisieren Sie das Betriebssystem, "
               "leeren Sie den App-Cache und installieren Sie die App neu. Senden Sie uns sonst Gerät und "
               "App-Version."),
        "fr": ("L'application plante au démarrage",
               "Si l'application se ferme dès l'ouverture depuis une mise à jour, mettez à jour le système, videz le "
               "cache de l'application puis réinstallez-la. Sinon, indiquez-nous votre appareil et la version."),
        "es": ("La aplicación se cierra al abrirla",
               "Si la aplicación se cierra nada más abrirla desde la última actualización, actualice el sistema, borre "
               "la caché de la aplicación y reinstálela. Si no, indíquenos el móvil y la versión."),
    },
    360007: {
        "en-us": ("Data not syncing between devices",
                  "Changes sync between your laptop, phone and other devices within a minute when they use the same "
                  "account. If changes do not show up, check that both devices run the latest version, then use "
                  "Sync now; signing out and in again does not reset sync. Tell us the time of the last successful "
                  "sync."),
        "fr": ("La synchronisation échoue",
               "Si la synchronisation échoue avec une erreur, vérifiez que chaque appareil utilise la dernière version "
               "puis relancez la synchronisation. Envoyez-nous l'erreur affichée et l'heure de la dernière "
               "synchronisation réussie."),
    },
    360008: {
        "en-us": ("Two-factor authentication: code rejected or backup codes lost",
                  "If your authenticator app's six-digit code is rejected as an invalid code, check that your phone's "
                  "clock is set automatically. If you lost your phone and your backup codes, an admin of your account "
                  "can reset two-factor authentication for you; otherwise we verify your identity before we reset it."),
        "de": ("Anmeldung nicht möglich: Bestätigungscode kommt nicht an",
               "Kommt der Bestätigungscode per SMS nicht an oder wird er abgelehnt, kann ein Admin Ihres Kontos die "
               "Zwei-Faktor-Anmeldung zurücksetzen. Das Zurücksetzen des Passworts hilft hier nicht; wir prüfen sonst "
               "Ihre Identität."),
        "fr": ("Connexion impossible : code de double authentification refusé",
               "Si le code de double authentification est refusé, vérifiez l'heure de votre téléphone. Un "
               "administrateur de votre compte peut réinitialiser la double authentification ; sinon nous vérifions "
               "votre identité avant de réinitialiser l'accès."),
    },
    360009: {
        "en-us": ("Password reset email not arriving",
                  "Password reset emails arrive within a few minutes from no-reply@example.com. If no email arrives, "
                  "check spam and any mail filters, and make sure you use the login address of your account. Each "
                  "new request cancels the previous link."),
        "es": ("El correo para restablecer la contraseña no llega",
               "El correo para restablecer la contraseña llega en pocos minutos. Si no llega, revise la carpeta de "
               "spam y compruebe que usa la dirección con la que inicia sesión en su cuenta."),
    },
    360010: {
        "en-us": ("Account locked after too many sign-in attempts",
                  "After ten failed attempts to log in with a wrong password, the account is locked for 30 minutes and "
                  "unlocks by itself. To unlock it at once, reset your password; support cannot unlock it for you."),
    },
    360011: {
        "en-us": ("How we handle feature requests and our roadmap",
                  "We collect feature requests and suggestions in our community forum, where you can vote for them. "
                  "The product team reviews the most requested features every quarter; we do not share dates for the "
                  "roadmap. Features like dark mode, exports and single sign-on are tracked there."),
        "de": ("Wie wir mit Funktionswünschen umgehen",
               "Wünsche wie ein Dunkelmodus sammeln wir im Community-Forum, wo Sie dafür abstimmen können. Das "
               "Produktteam prüft die meistgewünschten Funktionen jedes Quartal."),
        "fr": ("Suggestions d'amélioration et feuille de route",
               "Nous recueillons les suggestions, comme l'export des rapports en PDF depuis le tableau de bord, dans "
               "le forum de la communauté, où vous pouvez voter. L'équipe produit les étudie chaque trimestre."),
        "es": ("Propuestas de mejora y hoja de ruta",
               "Recogemos las propuestas, como un modo oscuro, en el foro de la comunidad, donde puede votarlas. El "
               "equipo de producto las revisa cada trimestre."),
    },
    360012: {
        "en-us": ("Changing the account owner",
                  "The account owner can transfer ownership to another admin under Settings > Team. If the previous "
                  "owner or admin left the company, we transfer ownership after a request from a company e-mail "
                  "address and remove their access."),
        "es": ("Cambiar el titular de la cuenta",
               "El titular puede pasar la cuenta a otro administrador en Ajustes > Equipo. Si la persona que "
               "administraba la cuenta ya no trabaja en la empresa, la transferimos tras una solicitud desde una "
               "dirección de la empresa."),
    },
    360013: {
        "en-us": ("Downgrading or cancelling your plan",
                  "You can downgrade to Starter or cancel at the end of the current billing period under Settings > "
                  "Billing. Data above the Starter limits stays read-only for 90 days, then is deleted."),
        "de": ("Abonnement kündigen oder herabstufen",
               "Sie können Ihr Abonnement unter Einstellungen > Abrechnung zum Ende des Abrechnungszeitraums kündigen "
               "oder herabstufen. Die Kündigung bestätigen wir schriftlich per E-Mail."),
    },
    360014: {
        "en-us": ("Deleting your account and personal data (GDPR)",
                  "To delete your account and all personal data we hold, the account owner sends a deletion request; "
                  "under the GDPR we confirm within 30 days when the data is deleted. Invoices are kept as the law "
                  "requires."),
    },
    360015: {
        "fr": ("Modifier l'adresse e-mail du compte",
               "Pour modifier l'adresse e-mail associée à votre compte, ouvrez Profil > Adresse e-mail. Si l'ancienne "
               "adresse n'existe plus, un administrateur peut la changer pour vous."),
    },
}

# articles that must never ground a draft: a draft and an article for agents only, both about refunds
NEVER_LINKED: dict[int, dict[str, Any]] = {
    360090: {"locale": "en-us", "draft": True, "user_segment_id": None,
             "title": "New refund policy for double charges (draft, not yet approved)",
             "body": "Double charges and duplicate payments will be refunded as account credit only, "
                     "never to the card."},
    360091: {"locale": "en-us", "draft": False, "user_segment_id": 7001,
             "title": "Internal: refund approval limits for duplicate charges",
             "body": "Agents may refund duplicate charges up to 500 without approval. "
                     "Double payment refunds above need a lead."},
}

# Macros of the simulated account (Macros API JSON format, developer.zendesk.com "Macros"): ``restriction`` null is
# shared with every agent; ``GET /api/v2/macros/active.json`` lists active macros with offset pagination
# (``next_page``, ``previous_page``, ``count``), restricted ones included for an admin, inactive ones never.
MACROS: list[dict[str, Any]] = [
    {"id": 510001, "title": "Billing::Refund duplicate charge", "active": True, "restriction": None,
     "description": "Confirms that a double payment is refunded to the card",
     "comment": "We are sorry about the duplicate charge. The second payment is refunded to your card within 5 to "
                "10 business days."},
    {"id": 510002, "title": "Login::Reset two-factor authentication", "active": True, "restriction": None,
     "description": "Two-factor code rejected or backup codes lost",
     "comment": "An admin of your account can reset two-factor authentication; if you are the only admin, we will "
                "verify your identity first."},
    {"id": 510003, "title": "Technical::Ask for crash report", "active": True, "restriction": None,
     "description": "The app crashes on startup",
     "comment": "Could you send us the crash report, your device model and the app version?"},
    {"id": 510004, "title": "Billing::Send corrected invoice", "active": True,
     "restriction": {"type": "Group", "id": 360000101, "ids": [360000101]},  # finance group only
     "description": "Corrected invoice with the VAT number", "comment": "Attached is the corrected invoice."},
    {"id": 510005, "title": "Billing::Old refund wording (retired)", "active": False, "restriction": None,
     "description": "Duplicate charge refund as account credit", "comment": "We credited your account."},
]

_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Article:
    id: int
    locale: str
    title: str
    body: str
    updated_at: int  # epoch seconds
    draft: bool = False
    user_segment_id: int | None = None
    label_names: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        slug = _SLUG.sub("-", self.title.lower()).strip("-")[:60]
        stamp = _iso(self.updated_at)
        # the article JSON format (developer.zendesk.com Articles API); body is HTML
        return {
            "id": self.id, "url": f"{HC_HOST}/api/v2/help_center/{self.locale}/articles/{self.id}.json",
            "html_url": f"{HC_HOST}/hc/{self.locale}/articles/{self.id}-{slug}", "author_id": 90001,
            "comments_disabled": False, "draft": self.draft, "promoted": False, "position": 0,
            "vote_sum": 0, "vote_count": 0, "section_id": 20000 + self.id % 100, "created_at": stamp,
            "updated_at": stamp, "edited_at": stamp, "title": self.title, "source_locale": "en-us",
            "locale": self.locale, "outdated": False, "outdated_locales": [], "permission_group_id": 5001,
            "user_segment_id": self.user_segment_id, "user_segment_ids": [] if self.user_segment_id is None
            else [self.user_segment_id], "label_names": list(self.label_names), "content_tag_ids": [],
            "body": f"<p>{self.body}</p>",
        }


def _iso(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


class HelpCenter:
    """The simulated Help Center: :data:`TOPICS` published, :data:`NEVER_LINKED` present but not linkable."""

    def __init__(self, clock: Callable[[], float], page_size: int = EXPORT_MAX_PER_PAGE) -> None:
        self.clock = clock
        self.page_size = page_size
        now = int(clock())
        self.articles: dict[tuple[int, str], Article] = {}
        for n, (article_id, locales) in enumerate(sorted(TOPICS.items())):
            for locale, (title, body) in locales.items():
                self.articles[(article_id, locale)] = Article(article_id, locale, title, body, now - 30 * _DAY + n * 60)
        for article_id, spec in NEVER_LINKED.items():
            self.articles[(article_id, spec["locale"])] = Article(
                article_id, spec["locale"], spec["title"], spec["body"], now - 2 * _DAY,
                draft=spec["draft"], user_segment_id=spec["user_segment_id"])

    def add(self, article_id: int, locale: str, title: str, body: str, **fields: Any) -> dict[str, Any]:
        """Add or replace an article (changed now); returns its JSON."""
        article = Article(article_id, locale, title, body, int(self.clock()), **fields)
        self.articles[(article_id, locale)] = article
        return article.json()

    def archive(self, article_id: int) -> None:
        """Archive an article in every locale: the export leaves it out from now on (dust-tt/dust#8656)."""
        for key in [k for k in self.articles if k[0] == article_id]:
            del self.articles[key]

    def html_url(self, article_id: int, locale: str = "en-us") -> str:
        return str(self.articles[(article_id, locale)].json()["html_url"])

    def macros_active(self, request: Request, base: str) -> Response:
        stamp = _iso(int(self.clock()) - 40 * _DAY)
        found = [{"id": m["id"], "url": f"{base}/api/v2/macros/{m['id']}.json", "title": m["title"],
                  "raw_title": m["title"], "active": True, "default": False, "position": n,
                  "description": m["description"], "restriction": m["restriction"], "created_at": stamp,
                  "updated_at": stamp, "actions": [{"field": "comment_value", "value": m["comment"]},
                                                   {"field": "status", "value": "pending"}]}
                 for n, m in enumerate(MACROS) if m["active"]]
        return Response(200, {"macros": found, "next_page": None, "previous_page": None, "count": len(found)})

    def export(self, request: Request, base: str) -> Response:
        raw = request.arg("start_time")
        if raw is None:
            raise ApiError(400, {"error": "InvalidParameter", "description": "start_time is required"})
        try:
            start = int(raw)
        except ValueError:
            raise ApiError(400, {"error": "InvalidParameter", "description": "start_time must be an integer"}) from None
        found = sorted((a for a in self.articles.values() if a.updated_at >= start),
                       key=lambda a: (a.updated_at, a.id, a.locale))
        page = found[:self.page_size]
        if not page:  # dust-tt/dust#8656: an empty page answered count 0, next_page null, end_time 1
            return Response(200, {"count": 0, "next_page": None, "end_time": 1, "articles": []})
        end_time = page[-1].updated_at
        more = len(found) > len(page) or len(page) == self.page_size
        next_page = f"{base}/api/v2/help_center/incremental/articles.json?{urlencode({'start_time': end_time})}"
        return Response(200, {"count": len(page), "next_page": next_page if more else None, "end_time": end_time,
                              "articles": [a.json() for a in page]})
