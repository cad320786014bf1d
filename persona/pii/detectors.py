"""PII detectors: text in, `Span`s out (where, which detector, what label, which sensitivity it suggests).

A detector is any object with a ``name`` and ``detect(text) -> Sequence[Span]`` (`Detector`). The built-ins
(`BUILTIN_DETECTORS`, in the order they win overlaps):

========== ============== ============ =================================================================
name       mask           sensitivity  what it finds
========== ============== ============ =================================================================
email      ``[EMAIL]``    personal     ``name@domain.tld``
iban       ``[IBAN]``     financial    IBANs of the country's length that pass the mod-97 check
card       ``[CARD]``     financial    13-19 digit card numbers with a card network's prefix and a valid
                                       Luhn check digit (spaces or dashes between groups)
national_id ``[NATIONAL_ID]`` secret   US SSNs (``123-45-6789`` with the SSA's format rules, or after the
                                       words SSN / social security), UK National Insurance numbers (format
                                       rules and excluded prefixes), Spanish DNI/NIE (check letter)
ip         ``[IP]``       personal     IPv4 (each part 0-255, not after "version"/"v") and IPv6 addresses
phone      ``[PHONE]``    personal     ``+CC ...`` international numbers (8-15 digits), North American
                                       ``(415) 555-2671`` / ``415-555-2671``, national numbers with a trunk
                                       0 and separators (``07700 900123``, ``06 12 34 56 78``), and bare
                                       digit runs right after a word such as "call", "phone" or "mobile"
address    ``[ADDRESS]``  personal     street addresses: "221B Baker Street" (English street types),
                                       "Hauptstraße 5" (German), "12 rue de la Paix" (French)
========== ============== ============ =================================================================

Never PII: plain numbers, amounts and prices, dates, times, years, versions, order and tracking numbers
without one of the shapes above. Names, ages, diagnoses and free-text health facts are not detected
(label such memories yourself, ``sensitivity="health"``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .checksums import IBAN_LENGTHS, dni_letter_ok, iban_ok, luhn_ok, ssn_ok

__all__ = ["BUILTIN_DETECTORS", "Detector", "RegexDetector", "Span", "builtin_detector", "detect"]


@dataclass(frozen=True)
class Span:
    """One piece of PII found in a text: ``text[start:end]``."""

    start: int
    end: int
    detector: str
    """The detector's name (``email``, ``card``, ...)."""
    label: str
    """What it is, in capitals: the mask written over it (``[EMAIL]``)."""
    sensitivity: str
    """The sensitivity label a memory holding it should get (``personal``, ``financial``, ``secret``)."""


@runtime_checkable
class Detector(Protocol):
    """Finds one kind of PII. ``detect`` returns spans in any order; overlaps are resolved by `detect`."""

    @property
    def name(self) -> str:
        """A short name, unique among the detectors of a policy (``email``, ``card``, ...)."""
        ...

    def detect(self, text: str) -> Sequence[Span]: ...


Check = Callable[[re.Match[str], str], tuple[int, int] | None]
"""Given a candidate match (and the whole text), the span to report, or None to reject it."""


@dataclass(frozen=True)
class RegexDetector:
    """A detector from a regex and a check that confirms (or trims, or rejects) each candidate."""

    name: str
    label: str
    sensitivity: str
    pattern: re.Pattern[str]
    check: Check | None = None
    needs: str = ""
    """A text without any of these characters (``"0"`` means: any digit) cannot hold a match: skipped fast."""

    def detect(self, text: str) -> list[Span]:
        if self.needs and not _has_any(text, self.needs):
            return []
        out: list[Span] = []
        for match in self.pattern.finditer(text):
            found = (match.start(), match.end()) if self.check is None else self.check(match, text)
            if found is not None:
                out.append(Span(found[0], found[1], self.name, self.label, self.sensitivity))
        return out


_DIGIT = re.compile(r"\d")


def _has_any(text: str, needs: str) -> bool:
    if "0" in needs and _DIGIT.search(text):
        return True
    return any(ch in text for ch in needs if ch != "0")


def _before(text: str, start: int, width: int = 24) -> str:
    return text[max(0, start - width) : start].lower()


# -- email ----------------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

# -- payment cards --------------------------------------------------------------------------------------------

_CARD = re.compile(r"(?<![\d.,-])\d(?:[ -]?\d){12,18}(?![\d]|[.,]\d)")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[47]|3[0689]|6(?:011|4[4-9]|5|2)|35")


def _card(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    raw = match.group()
    seps = {ch for ch in raw if not ch.isdigit()}
    if len(seps) > 1 or "  " in raw:
        return None
    if seps:  # grouped as cards print them: fours (the last shorter), or Amex/Diners 4-6-5 / 4-6-4
        sizes = [len(g) for g in raw.replace("-", " ").split(" ")]
        if sizes not in ([4, 6, 5], [4, 6, 4]) and not (all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4):
            return None
    digits = raw.replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or not _CARD_PREFIX.match(digits) or not luhn_ok(digits):
        return None
    if len(set(digits)) < 2:  # one digit repeated
        return None
    return match.span()


# -- IBAN -----------------------------------------------------------------------------------------------------

_IBAN = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})(\d{2})((?: ?[A-Z0-9]){11,30})")


def _iban(match: re.Match[str], text: str) -> tuple[int, int] | None:
    chars = [(i, ch) for i, ch in enumerate(match.group(), start=match.start()) if ch != " "]
    country = match.group(1)
    lengths = [IBAN_LENGTHS[country]] if country in IBAN_LENGTHS else range(min(34, len(chars)), 14, -1)
    for length in lengths:
        if length > len(chars):
            continue
        end = chars[length - 1][0] + 1
        if end < len(text) and text[end].isalnum():
            continue  # it runs on into a longer word or number
        if iban_ok("".join(ch for _i, ch in chars[:length])):
            return match.start(), end
    return None


# -- national ids ---------------------------------------------------------------------------------------------

_SSN = re.compile(
    r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])"
    r"|(?:ssn|social security(?: number| no\.?)?)\W{0,12}(?:is\W{1,3})?(\d{3})[ .]?(\d{2})[ .]?(\d{4})(?!\d)",
    re.I,
)


def _ssn(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    if match.group(1):
        return match.span() if ssn_ok(match.group(1), match.group(2), match.group(3)) else None
    if not ssn_ok(match.group(4), match.group(5), match.group(6)):
        return None
    return match.start(4), match.end(6)


_NINO = re.compile(
    r"(?<![A-Za-z0-9])([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]) ?(\d{2}) ?(\d{2}) ?(\d{2}) ?([A-D])(?![A-Za-z0-9])"
)
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def _nino(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    return None if match.group(1) in _NINO_BAD_PREFIXES else match.span()


_DNI = re.compile(r"(?<![A-Za-z0-9-])([XYZ]?\d{7,8})-?([A-Za-z])(?![A-Za-z0-9])")


def _dni(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    number = match.group(1)
    if (number[0].isdigit() and len(number) != 8) or (number[0].isalpha() and len(number) != 8):
        return None
    return match.span() if dni_letter_ok(number, match.group(2)) else None


class _NationalIds:
    """US SSN, UK NINO and Spanish DNI/NIE: one detector, ``national_id``."""

    name = "national_id"

    def __init__(self) -> None:
        self._parts = [
            RegexDetector(self.name, "NATIONAL_ID", "secret", pattern, check, needs="0")
            for pattern, check in ((_SSN, _ssn), (_NINO, _nino), (_DNI, _dni))
        ]

    def detect(self, text: str) -> list[Span]:
        return [span for part in self._parts for span in part.detect(text)]


# -- IP addresses ---------------------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|:)?(?![\w:])")
_VERSIONISH = re.compile(
    r"(?:\bv|version|release|build|ver\.?|firmware|update|upgrade[ds]? to|section|chapter|clause|§)\s*$"
)


def _ipv4(match: re.Match[str], text: str) -> tuple[int, int] | None:
    return None if _VERSIONISH.search(_before(text, match.start())) else match.span()


def _ipv6(match: re.Match[str], _text: str) -> tuple[int, int] | None:
    value = match.group()
    groups = [g for g in value.split(":") if g]
    if len(groups) < 2 or ("::" not in value and len(groups) != 8):
        return None
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return None
    return match.span()


class _IpAddresses:
    name = "ip"

    def __init__(self) -> None:
        self._parts = [
            RegexDetector(self.name, "IP", "personal", _IPV4, _ipv4, needs="0"),
            RegexDetector(self.name, "IP", "personal", _IPV6, _ipv6, needs=":"),
        ]

    def detect(self, text: str) -> list[Span]:
        return [span for part in self._parts for span in part.detect(text)]


# -- phone numbers --------------------------------------------------------------------------------------------

_SEP = r"[ .\-\u00a0]"
_PHONE = re.compile(
    rf"(?<![\w+])\+\d{{1,3}}(?:{_SEP}?\(\d{{1,4}}\))?(?:{_SEP}?\d{{1,5}}){{1,5}}(?![\w]|[.,]\d)"  # +CC ...
    rf"|(?<![\w(])(?:\([2-9]\d{{2}}\) ?|[2-9]\d{{2}}[.\- ])[2-9]\d{{2}}[.\- ]\d{{4}}(?![\w]|[.,\-]\d)"  # NANP
    rf"|(?<![\w.,\-/])0\d{{1,4}}(?:{_SEP}\d{{2,8}}){{1,4}}(?![\w]|[.,\-/:]\d)"  # trunk 0 national
    r"|(?:phone|call|tel|mobile|cell|whatsapp|text me|ring me|fax|my number)\b\D{0,16}?(?<!\d)(\+?\d{9,14})(?!\d)",
    re.I,
)


def _phone(match: re.Match[str], text: str) -> tuple[int, int] | None:
    if match.group(1):  # a bare run of digits after a phone word
        start, end = match.span(1)
    else:
        start, end = match.span()
    value = text[start:end]
    before = text[:start].rstrip().rsplit(None, 1)
    if not match.group(1) and before and start > 0 and text[start - 1] == " " and any(c.isdigit() for c in before[-1]):
        return None  # the tail of a longer code ("AA1 0123 4567 84", an IBAN's last groups)
    digits = sum(ch.isdigit() for ch in value)
    if value.startswith("+"):
        ok = 8 <= digits <= 15
    elif value.startswith("0") and not match.group(1):
        ok = 10 <= digits <= 12 and not re.search(r"\d[.\-/]\d{1,2}[.\-/]\d{2,4}$", value)  # not a date
    else:
        ok = 9 <= digits <= 14
    return (start, end) if ok else None


# -- street addresses -----------------------------------------------------------------------------------------

_STREET_TYPES = (
    r"Street|St\.?|Avenue|Ave\.?|Road|Rd\.?|Boulevard|Blvd\.?|Lane|Ln\.?|Drive|Dr\.?|Court|Ct\.?|Way|Place|"
    r"Pl\.?|Terrace|Close|Crescent|Square|Sq\.?|Parkway|Pkwy\.?|Highway|Hwy\.?|Gardens|Row|Mews"
)
_ADDRESS = re.compile(
    rf"(?<![\w$£€.,])\d{{1,5}}[A-Za-z]?,?\s+(?:[NSEW]\.?\s+)?(?:[A-Z][a-z'’.-]+\s+){{1,4}}(?:{_STREET_TYPES})(?![\w])"
    r"|(?<!\w)[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|weg|gasse|allee|platz|ring|damm) \d{1,4}[a-z]?(?!\w)"
    r"|(?<![\w$£€.,])\d{1,4}(?: ?bis| ?ter)?,? (?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai) "
    r"(?:de la |de l'|du |des |de |d')?[A-ZÉÈ][\w'’-]+"
)

# -- the built-ins --------------------------------------------------------------------------------------------


def _builtins() -> list[Detector]:
    return [
        RegexDetector("email", "EMAIL", "personal", _EMAIL, needs="@"),
        RegexDetector("iban", "IBAN", "financial", _IBAN, _iban, needs="0"),
        RegexDetector("card", "CARD", "financial", _CARD, _card, needs="0"),
        _NationalIds(),
        _IpAddresses(),
        RegexDetector("phone", "PHONE", "personal", _PHONE, _phone, needs="0"),
        RegexDetector("address", "ADDRESS", "personal", _ADDRESS, needs="0"),
    ]


BUILTIN_DETECTORS: tuple[str, ...] = ("email", "iban", "card", "national_id", "ip", "phone", "address")
_BUILT = {d.name: d for d in _builtins()}


def builtin_detector(name: str) -> Detector:
    """The built-in detector called ``name`` (one of `BUILTIN_DETECTORS`)."""
    return _BUILT[name]


def default_detectors() -> list[Detector]:
    return [_BUILT[name] for name in BUILTIN_DETECTORS]


def detect(text: str, detectors: Iterable[Detector] | None = None) -> list[Span]:
    """Every span the detectors find in ``text``, in text order, without overlaps: where two overlap, the
    detector listed first wins (the built-ins' order: email, iban, card, national_id, ip, phone, address)."""
    chosen: list[Span] = []
    for detector in default_detectors() if detectors is None else detectors:
        for span in sorted(detector.detect(text), key=lambda s: (s.start, -s.end)):
            if all(span.end <= kept.start or span.start >= kept.end for kept in chosen):
                chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
