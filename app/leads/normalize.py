"""Normalisation for duplicate detection: emails, phone numbers (E.164 via the
phonenumbers library) and company names (legal-form suffixes removed).

Phone numbers are the expensive part of a bulk import (phonenumbers.parse costs ~50 us).
`PhoneNormalizer` answers the common shape (a plain national number in the default
region, separators allowed) with the region's own phonenumbers metadata patterns compiled
once, and falls back to phonenumbers.parse (memoised) for everything else. The tests
check that both paths give the same answer as phonenumbers on generated numbers.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberFormat

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_SEPARATORS = str.maketrans("", "", " -().\u00a0\u3000")
_DIGITS = re.compile(r"^\d{4,17}$")
_TYPE_DESCS = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan",
    "voicemail", "fixed_line", "mobile",
)


def normalize_email(raw: str | None) -> tuple[str | None, bool]:
    """(normalised, valid). Empty input is (None, True): no email is not an error."""
    if raw is None:
        return None, True
    value = raw.strip().lower()
    if not value:
        return None, True
    return (value, True) if _EMAIL.match(value) and len(value) <= 320 else (None, False)


class PhoneNormalizer:
    """Callable: raw phone text -> (E.164 or None, valid). One per default region."""

    def __init__(self, region: str) -> None:
        self.region = region.upper()
        md = PhoneMetadata.metadata_for_region(self.region)
        self._fast = md is not None
        if md is None:
            return
        self._prefix = "+" + str(md.country_code)
        self._cc = str(md.country_code)
        self._strip = re.compile(md.national_prefix_for_parsing) if md.national_prefix_for_parsing else None
        self._national_prefix = md.national_prefix or ""
        general = md.general_desc
        self._general = re.compile(general.national_number_pattern) if general and general.national_number_pattern else None
        # By length: the union of the number-type patterns that allow that length.
        by_length: dict[int, list[str]] = {}
        general_lengths = set(general.possible_length or ()) if general else set()
        for name in _TYPE_DESCS:
            desc = getattr(md, name, None)
            if desc is None or not desc.national_number_pattern:
                continue
            lengths = set(desc.possible_length or ()) or general_lengths
            if lengths == {-1}:
                continue
            for length in lengths:
                by_length.setdefault(length, []).append(desc.national_number_pattern)
        self._valid_by_length = {n: re.compile("(?:" + ")|(?:".join(p) + ")") for n, p in by_length.items()}
        self._general_lengths = general_lengths

    def __call__(self, raw: str | None) -> tuple[str | None, bool]:
        if raw is None:
            return None, True
        text = raw.strip()
        if not text:
            return None, True
        if self._fast:
            compact = text.translate(_SEPARATORS)
            if (
                _DIGITS.match(compact)
                and not compact.startswith(self._cc)  # might carry the country code
                and (self._strip is None or not self._strip.match(compact))
                and (not self._national_prefix or not compact.startswith(self._national_prefix))
            ):
                # phonenumbers would keep these digits as the national number unchanged.
                return self._national(compact)
        return _parse(text, self.region)

    def _national(self, digits: str) -> tuple[str | None, bool]:
        if digits[0] == "0":  # Italian-style leading zeros: let phonenumbers decide
            return _parse(digits, self.region)
        pattern = self._valid_by_length.get(len(digits))
        if (
            pattern is not None
            and len(digits) in self._general_lengths
            and self._general is not None
            and self._general.fullmatch(digits)
            and pattern.fullmatch(digits)
        ):
            return self._prefix + digits, True
        # Not a number of this region, but maybe of another sharing its country code
        # (+1 Canada, +44 Jersey ...): phonenumbers decides.
        return _parse(digits, self.region)


@lru_cache(maxsize=65536)
def _parse(text: str, region: str) -> tuple[str | None, bool]:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None, False
    if not phonenumbers.is_valid_number(number):
        return None, False
    return phonenumbers.format_number(number, PhoneNumberFormat.E164), True


@lru_cache(maxsize=16)
def phone_normalizer(region: str) -> PhoneNormalizer:
    return PhoneNormalizer(region)


# Legal-form words removed from the end of company names (and a few from anywhere for CJK).
_CJK_SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团", "公司", "株式会社", "有限會社", "有限公司",
)
_LATIN_SUFFIXES = {
    "ltd", "limited", "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp",
    "plc", "gmbh", "ag", "sa", "sas", "sarl", "bv", "nv", "oy", "ab", "as", "pte", "pty", "kk", "group",
    "holdings", "spa", "srl",
}
_PUNCT = re.compile(r"[\s\.,&'’\"()（）\-_/]+")


def normalize_company(raw: str | None) -> str | None:
    """'Acme Trading Co., Ltd.' and 'ACME Trading' -> 'acme trading';
    '上海华为技术有限公司' -> '上海华为技术'. None when nothing meaningful is left."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", raw).casefold().strip()
    if not text:
        return None
    words = [w for w in _PUNCT.split(text) if w]
    while len(words) > 1 and words[-1] in _LATIN_SUFFIXES:
        words.pop()
    joined = " ".join(words)
    changed = True
    while changed:
        changed = False
        for suffix in _CJK_SUFFIXES:
            if joined.endswith(suffix) and len(joined) > len(suffix):
                joined = joined[: -len(suffix)].rstrip()
                changed = True
    return joined or None
