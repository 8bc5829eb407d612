"""Pattern-based redaction of personal data before text leaves for the model (pure).

Honest limits: this finds well-formed e-mail addresses, phone numbers of 9+ digits, card numbers
that pass the Luhn check and IBANs that pass the mod-97 check. It does not find names, postal
addresses, numbers split across lines, numbers written in words, or data inside attachments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

KINDS = ("email", "phone", "card", "iban")

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{7,18}\d(?!\w)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _sub(pattern: re.Pattern[str], label: str, check: Callable[[str], bool] | None) -> Callable[[str], str]:
    def apply(text: str) -> str:
        return pattern.sub(lambda m: f"[{label}]" if check is None or check(m.group(0)) else m.group(0), text)
    return apply


_RULES: dict[str, Callable[[str], str]] = {
    "email": _sub(_EMAIL, "email", None),
    "iban": _sub(_IBAN, "iban", _iban_ok),
    "card": _sub(_CARD, "card", lambda s: _luhn(re.sub(r"\D", "", s))),
    "phone": _sub(_PHONE, "phone", lambda s: sum(c.isdigit() for c in s) >= 9),
}
_ORDER = ("email", "iban", "card", "phone")  # longest, most specific patterns first


def redact(text: str, kinds: Iterable[str]) -> str:
    """Replace each configured kind of personal data with a placeholder like ``[email]``."""
    wanted = set(kinds)
    for kind in _ORDER:
        if kind in wanted:
            text = _RULES[kind](text)
    return text
