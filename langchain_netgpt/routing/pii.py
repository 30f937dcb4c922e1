"""Detection of personal data and credentials in text that tries to hide them.

:func:`normalize` undoes the usual evasions before any pattern runs: Unicode NFKC (the
full-width at sign U+FF20, mathematical and circled letters), removal of format characters
(zero-width spaces and joiners, soft hyphens, bidi marks), Unicode digits and dashes to ASCII,
and Cyrillic / Greek letters that look Latin to their Latin twin. :func:`detect` then runs the
built-in detectors, every one linear in the text (literal anchors or bounded repetitions; an
email is found from its ``@``, not by scanning every possible start), and looks once more
inside base64 runs and percent-encoded text.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import unicodedata
from collections.abc import Callable
from urllib.parse import unquote

from langchain_netgpt.tracing.credentials import credential_pattern

__all__ = ["PII_KINDS", "detect", "normalize"]

# -- normalisation -------------------------------------------------------------------------------

# Letters of other scripts that render like Latin ones (Unicode confusables, the common subset:
# Cyrillic and Greek letters, then punctuation standing for "@", "." and "-"), and their twins.
_CONFUSABLES = dict(
    zip(
        (
            "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442"
            "\u0443\u0445\u0455\u0456\u0457\u0458\u0501\u051b\u051d\u04bb\u04cf"
            "\u0261\u028f\u1d20\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420"
            "\u0421\u0422\u0423\u0425\u0405\u0406\u0408\u0500\u051a\u051c\u03b1"
            "\u03bf\u03c1\u03bd\u03c4\u03c5\u03b9\u03ba\u03c7\u03f2\u0391\u0392"
            "\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5"
            "\u03a7\ufe6b\u3002\uff61\u2024\u2027\u2010\u2011\u2012\u2013\u2014"
            "\u2015\u2212\ufe63\uff0d"
        ),
        ("abeekmhopctyxsiijdqwhlgyvABEKMHOPCTYXSIJDQWaopvtuikxcABEZHIKMNOPTYX@....---------"),
        strict=True,
    )
)


class _Translation(dict[int, "str | None"]):
    """``str.translate`` table filled on first sight of each character (no 1.1M-entry build)."""

    def __missing__(self, code: int) -> str | int | None:
        ch = chr(code)
        category = unicodedata.category(ch)
        value: str | int | None
        if category == "Cf":  # zero-width space/joiners, soft hyphen, bidi marks, BOM
            value = None
        elif category == "Nd":  # any decimal digit (Arabic-Indic, Devanagari, ...) to ASCII
            value = str(unicodedata.digit(ch))
        elif category == "Zs":  # every space to a plain space
            value = " "
        else:
            value = code
        self[code] = value  # type: ignore[assignment]
        return value


_TABLE = _Translation({ord(k): v for k, v in _CONFUSABLES.items()})


def normalize(text: str) -> str:
    r"""``text`` with the usual evasions undone (a no-op for ASCII text).

    Args:
        text: Any text.

    Returns:
        NFKC-normalised text without format characters, with ASCII digits, dashes and spaces,
        and Latin letters for Cyrillic / Greek look-alikes.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.pii import normalize

            assert normalize("j\u0430ne\u200b\uff20example\uff0ecom") == "jane@example.com"
    """
    if text.isascii():
        return text
    # Every non-ASCII code point becomes one "?", so offsets match; "?" is rare, and a bytes
    # search for it is far faster than a regex over the text for non-ASCII characters.
    marked = text.encode("ascii", "replace")
    pieces: list[str] = []
    last = 0
    begin = marked.find(b"?")
    while begin != -1:
        end = begin + 1
        while end < len(marked) and marked[end] == _QUESTION:
            end += 1
        if not text[begin:end].isascii():  # not only question marks of the text itself
            # One character before the run goes with it: a combining mark composes with it.
            begin = begin - 1 if begin > last else begin
            pieces.append(text[last:begin])
            pieces.append(_normalize_run(text[begin:end]))
            last = end
        begin = marked.find(b"?", end)
    pieces.append(text[last:])
    return "".join(pieces)


_QUESTION = ord("?")


@functools.lru_cache(maxsize=4096)
def _normalize_run(run: str) -> str:
    return unicodedata.normalize("NFKC", run).translate(_TABLE)


# -- detectors -----------------------------------------------------------------------------------

# An email is found from its "@" (a literal the regex engine finds fast), the character before
# it (the local part is at least one character) and the domain after it; trying every start of
# a local part instead took 14 s on 100 KB of letters.
_EMAIL_AT = re.compile(r"@(?<=[\w.%+'-]@)\s?(?:[\w-]{1,63}\s?\.\s?){1,8}[^\W\d_]{2,63}(?![\w-])")
_OBFUSCATED_EMAIL = re.compile(
    r"\b[\w.+-]{1,64}\s{0,3}[\[({<]\s{0,2}at\s{0,2}[\])}>]\s{0,3}[\w-]{1,63}"
    r"(?:\s{0,3}(?:[\[({<]\s{0,2}dot\s{0,2}[\])}>]|\.)\s{0,3}[\w-]{1,63}){1,4}\b",
    re.IGNORECASE,
)
_SPACED_AT = re.compile(r"[\w.%+'-] @\s?(?:[\w-]{1,63}\s?\.\s?){1,8}[^\W\d_]{2,63}(?![\w-])")
_AT_BRACKET = re.compile(r"[\[({<] {0,2}[Aa][Tt] {0,2}[\])}>]")
# "jane at example dot com": the words alone, so the last one must be a common TLD.
_SPELLED_EMAIL = re.compile(
    r"\b[\w.+-]{1,64}\s{1,3}at\s{1,3}[\w-]{1,63}(?:\s{1,3}dot\s{1,3}[\w-]{1,63}){0,3}"
    r"\s{1,3}dot\s{1,3}(?:com|org|net|edu|gov|mil|int|info|biz|io|ai|co|me|app|dev|uk|de|fr|"
    r"es|it|nl|be|ch|at|se|no|dk|fi|pl|cz|pt|ie|ru|cn|jp|kr|in|br|mx|ca|au|nz|us|eu)\b",
    re.IGNORECASE,
)


def _has_email(text: str) -> bool:
    if _EMAIL_AT.search(text) is not None:
        return True
    if " @" in text and _SPACED_AT.search(text) is not None:
        return True
    if _AT_BRACKET.search(text) is not None and _OBFUSCATED_EMAIL.search(text) is not None:
        return True
    return (
        any(word in text for word in (" dot ", " DOT ", " Dot "))
        and _SPELLED_EMAIL.search(text) is not None
    )


_SEP = r"[\s.()/-]"
_PHONES = (
    # International: +CC and 6-14 more digits, any common separators.
    re.compile(rf"(?<![\w+])\+\d(?:{_SEP}{{0,2}}\d){{6,14}}(?!\d)"),
    # International with the 00 prefix: 0044 20 7946 0958.
    re.compile(rf"(?<![\w+])00[1-9](?:{_SEP}{{0,2}}\d){{6,13}}(?!\d)"),
    # North American: (415) 555-0100, 415.555.0100, 415 555 0100.
    re.compile(r"(?<![\w+.])\(?[2-9]\d{2}\)?[\s.-]{0,2}\d{3}[\s.-]\d{4}(?![\w-])"),
    # National with a trunk 0: 020 7946 0958, 030/12345678, 06 12 34 56 78, 0612345678.
    re.compile(r"(?<![\w+.,/-])0[1-9]\d{0,3}(?:[ /-]?\d{2,8}){1,4}(?![\w,/-]|\.\d)"),
    # French dotted pairs: 06.12.34.56.78.
    re.compile(r"(?<![\w.])0[1-9](?:\.\d{2}){4}(?![\w.])"),
)
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|call|mobile|cell|sms|text me|whatsapp|signal|fax|contact|"
    r"phone number|ring|reach me)\b\D{0,20}(\d(?:[\s.()-]{0,2}\d){6,14})(?!\d)"
)


def _digit_count(text: str) -> int:
    return sum(map(str.isdigit, text))


_PHONE = re.compile("|".join(f"(?:{p.pattern})" for p in _PHONES))
_PHONE_WORDS = (
    "phone", "tel", "call", "mobile", "cell", "sms", "text me", "whatsapp", "signal", "fax",
    "contact", "ring", "reach me",
)  # fmt: skip


def _has_phone(text: str) -> bool:
    if any(9 <= _digit_count(m.group()) <= 15 for m in _PHONE.finditer(text)):
        return True
    lower = text.lower()
    if not any(word in lower for word in _PHONE_WORDS):
        return False
    return any(8 <= _digit_count(m.group(1)) <= 15 for m in _PHONE_CONTEXT.finditer(text))


# Spaced or dashed anywhere, dotted only in groups of four (a decimal such as 0.1333333333333
# must not be read as a card number).
_CARD = re.compile(r"(?<![\d.])(?:(?:\d[ -]?){12,18}\d|\d{4}(?:\.\d{4}){2}\.\d{1,7})(?![\d]|\.\d)")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _has_card(text: str) -> bool:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            return True
    return False


_IBAN = re.compile(
    r"\b[A-Z]{2}\d{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,4})?\b", re.IGNORECASE
)


def _iban_ok(text: str) -> bool:
    iban = re.sub(r"[ -]", "", text).upper()
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def _has_iban(text: str) -> bool:
    return any(_iban_ok(m.group()) for m in _IBAN.finditer(text))


# US SSN: 123-45-6789 or 123 45 6789 anywhere; 123456789 only next to a word naming it.
_SSN = re.compile(r"(?<![\d-])(\d{3})([ -])(\d{2})\2(\d{4})(?![\d-])")
_SSN_CONTEXT = re.compile(
    r"(?i)\b(?:ssn|social security(?: number| no\.?)?|soc\.? sec\.?|tax ?id|tin|itin)\b"
    r"\D{0,20}(\d{3})[ .-]?(\d{2})[ .-]?(\d{4})(?!\d)"
)


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_SSN_WORDS = ("ssn", "social security", "soc", "tax", "tin")


def _has_government_id(text: str) -> bool:
    if any(_ssn_ok(m.group(1), m.group(3), m.group(4)) for m in _SSN.finditer(text)):
        return True
    lower = text.lower()
    if not any(word in lower for word in _SSN_WORDS):
        return False
    return any(_ssn_ok(*m.groups()) for m in _SSN_CONTEXT.finditer(text))


def _has_api_key(text: str) -> bool:
    return credential_pattern().search(text) is not None


_DETECTORS: dict[str, Callable[[str], bool]] = {
    "email": _has_email,
    "phone": _has_phone,
    "credit_card": _has_card,
    "iban": _has_iban,
    "government_id": _has_government_id,
    "api_key": _has_api_key,
}
_DIGIT_KINDS = frozenset({"phone", "credit_card", "iban", "government_id"})

PII_KINDS = frozenset(_DETECTORS)
"""Kinds the built-in detector knows: ``email``, ``phone``, ``credit_card``, ``iban``,
``government_id``, ``api_key``."""

# -- encodings -----------------------------------------------------------------------------------

_MAX_DECODED_RUN = 64 * 1024
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});")
_JSON_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})")


# -- candidate windows ---------------------------------------------------------------------------
# Running every detector over every character costs ~15 ms per detector per MB. Instead, three
# cheap passes find where anything could be (digit clusters, runs of base64 characters, literal
# prefixes), and the detectors run on small windows around those places only.

# Digit clusters are found on a class string (digit "d", separator "s", other ".") whose
# pattern starts with a literal, which the regex engine finds with a fast memchr-like search.
_DIGIT_CLASSES = (
    bytes(
        ord("d") if chr(b).isdigit() else ord("s") if chr(b) in " \t\r\n\f\v().+/-" else ord(".")
        for b in range(128)
    )
    + b"." * 128
)
_DIGIT_CLUSTER = re.compile(rb"d[ds]{6,}d")
_RUN_BYTES = bytes(
    1 if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "+/_-") else 0 for b in range(256)
)
_RUN_MIN = 16
_RUN_NEEDLE = b"\x01" * _RUN_MIN
_KEY_LITERALS = ("://", "-----BEGIN", "earer", "EARER", "Basic", "BASIC", "hooks.slack")
_BEFORE, _AFTER = 48, 40
_MIN_DIGITS = 7


def _windows(text: str, spans: list[tuple[int, int]], before: int, after: int) -> list[str]:
    """Substrings around ``spans``, overlapping ones merged."""
    merged: list[list[int]] = []
    for start, end in spans:
        lo, hi = max(0, start - before), end + after
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return [text[lo:hi] for lo, hi in merged]


class _Scan:
    """One text and its candidate places, each found once and only when a detector asks."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._digit_windows: list[str] | None = None
        self._runs: list[tuple[int, int]] | None = None
        self._ascii: bytes | None = None

    @property
    def ascii(self) -> bytes:
        """The text with every non-ASCII code point as ``?`` (same offsets), for bytes scans."""
        if self._ascii is None:
            self._ascii = self.text.encode("ascii", "replace")
        return self._ascii

    def digit_windows(self) -> list[str]:
        if self._digit_windows is None:
            # Every digit kind holds at least 7 digits (IBANs: a run of them after the bank
            # code); shorter clusters are dates, sums and counts.
            classes = self.ascii.translate(_DIGIT_CLASSES)
            spans = [
                m.span()
                for m in _DIGIT_CLUSTER.finditer(classes)
                if m.group().count(b"d") >= _MIN_DIGITS
            ]
            self._digit_windows = _windows(self.text, spans, _BEFORE, _AFTER)
        return self._digit_windows

    def runs(self) -> list[tuple[int, int]]:
        """Runs of 16+ base64 characters (``[A-Za-z0-9+/_-]``, then ``=`` padding).

        Found with ``bytes.translate`` and ``bytes.find`` (C loops, ~1 ms per MB) rather than a
        regex, which would try a match at every letter (~15 ms per MB).
        """
        if self._runs is None:
            text = self.text
            classes = self.ascii.translate(_RUN_BYTES)
            runs: list[tuple[int, int]] = []
            start = classes.find(_RUN_NEEDLE)
            while start != -1:
                end = classes.find(b"\x00", start + _RUN_MIN)
                end = len(classes) if end == -1 else end
                if text.startswith("==", end):
                    end += 2
                elif text.startswith("=", end):
                    end += 1
                runs.append((start, end))
                start = classes.find(_RUN_NEEDLE, end)
            self._runs = runs
        return self._runs

    def has(self, kind: str) -> bool:
        if kind in _DIGIT_KINDS:
            detector = _DETECTORS[kind]
            return any(detector(window) for window in self.digit_windows())
        if kind == "api_key":
            return self._has_key()
        return _DETECTORS[kind](self.text)

    def _has_key(self) -> bool:
        text = self.text
        spans: list[tuple[int, int]] = []
        for start, end in self.runs():
            run = text[start:end]
            if run.isalpha() and run.islower():
                continue  # a long word, not a key
            # A JWT's payload can be long: its window reaches past it.
            spans.append((start, end + (8192 if run.startswith("eyJ") else 0)))
        for literal in _KEY_LITERALS:
            at = text.find(literal)
            while at != -1:
                spans.append((at, at + 600))
                at = text.find(literal, at + 1)
        spans.sort()
        pattern = credential_pattern()
        return any(pattern.search(w) for w in _windows(text, spans, 40, 40))

    def decoded_runs(self) -> list[str]:
        """Printable UTF-8 text hidden in the base64 runs."""
        found: list[str] = []
        for start, end in self.runs():
            run = self.text[start:end]
            if len(run) > _MAX_DECODED_RUN or (run.isalpha() and run.islower()):
                continue
            decoded = _b64_text(run)
            if decoded is not None:
                found.append(decoded)
        return found


def _b64_text(run: str) -> str | None:
    padded = run.rstrip("=")
    if len(padded) % 4 == 1:
        return None
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if all(ch.isprintable() or ch in "\n\r\t" for ch in decoded):
        return decoded
    return None


def detect(text: str, kinds: tuple[str, ...]) -> str | None:
    r"""The first kind of ``kinds`` found in ``text`` (normalised first), or ``None``.

    ``text`` is also searched percent-decoded (``jane%40example.com``), with HTML entities
    (``&#64;``) and JSON escapes (``\u0040``) decoded, and inside its base64 runs
    (``amFuZUBleGFtcGxlLmNvbQ==``).

    Args:
        text: Any text.
        kinds: Kinds of :data:`PII_KINDS` to look for, in order.

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.pii import PII_KINDS, detect

            assert detect("mail jane\u200b@example.com", tuple(PII_KINDS)) == "email"
            assert detect("2 + 2 = 4", tuple(PII_KINDS)) is None
    """
    scan = _Scan(normalize(text))
    found = _first(scan, kinds)
    if found is not None:
        return found
    text = scan.text
    variants: list[str] = []
    if "%" in text and _PERCENT.search(text):
        variants.append(unquote(text))
    if "&" in text and _ENTITY.search(text):
        variants.append(html.unescape(text))
    if "\\u" in text and _JSON_ESCAPE.search(text):
        variants.append(_JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text))
    variants.extend(scan.decoded_runs())
    for variant in variants:
        found = _first(_Scan(normalize(variant)), kinds)
        if found is not None:
            return found
    return None


def _first(scan: _Scan, kinds: tuple[str, ...]) -> str | None:
    return next((kind for kind in kinds if scan.has(kind)), None)
