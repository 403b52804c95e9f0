"""Locale codes checked against the IANA language subtag registry, with did-you-mean.

The registry comes from `langcodes`, which ships it as package data (no network): a code
whose language, script or region subtag the registry lacks would be sent as a `language`
AI Studios does not speak (`jp` is Japan, not Japanese), and billed.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
from pathlib import Path

from specsync.model import canonical_locale
from specsync.render.cache import TemplateCache

# Registry codes that name no language an avatar can speak.
_NOT_SPOKEN = {"und": "undetermined", "mul": "multiple languages", "zxx": "no linguistic content"}


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The registry's two-letter language subtags and two-letter region subtags, as langcodes
# 3.5 ships them: `en`, `ko` or `pt-BR` (any of the first, or one of them, a dash and one
# of the second: every such pair is a valid tag) is answered without importing the
# registry, ~40 ms of a first run. A list written out here, checked against the installed
# langcodes by tests/manifests/test_languages.py; any other spelling asks the registry.
_TWO_LETTER_LANGUAGES = _codes(
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu "
    "cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi "
    "ho hr ht hu hy hz ia id ie ig ii ik in io is it iu iw ja ji jv jw ka kg ki kj kk kl km "
    "kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mo mr ms mt my na "
    "nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd "
    "se sg sh si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw "
    "ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
)
_TWO_LETTER_REGIONS = _codes(
    "AA AC AD AE AF AG AI AL AM AN AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL "
    "BM BN BO BQ BR BS BT BU BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CP CR CS CT CU "
    "CV CW CX CY CZ DD DE DG DJ DK DM DO DY DZ EA EC EE EG EH ER ES ET EU EZ FI FJ FK FM FO "
    "FQ FR FX GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU HV "
    "IC ID IE IL IM IN IO IQ IR IS IT JE JM JO JP JT KE KG KH KI KM KN KP KR KW KY KZ LA LB "
    "LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MI MK ML MM MN MO MP MQ MR MS MT MU MV "
    "MW MX MY MZ NA NC NE NF NG NH NI NL NO NP NQ NR NT NU NZ OM PA PC PE PF PG PH PK PL PM "
    "PN PR PS PT PU PW PY PZ QA QM QN QO QP QQ QR QS QT QU QV QW QX QY QZ RE RH RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SU SV SX SY SZ TA TC TD TF TG TH TJ "
    "TK TL TM TN TO TP TR TT TV TW TZ UA UG UK UM UN US UY UZ VA VC VD VE VG VI VN VU WF WK "
    "WS XA XB XC XD XE XF XG XH XI XJ XK XL XM XN XO XP XQ XR XS XT XU XV XW XX XY XZ YD YE "
    "YT YU ZA ZM ZR ZW ZZ"
)


@functools.cache
def _known_valid() -> TemplateCache:
    """The codes found valid by earlier runs, in the authenticated cache packs (by the
    registry's version): importing langcodes' registry costs ~25 ms, a fifth of a
    pre-commit run, to learn that `en` is English again. Only "valid" is remembered: a
    refusal is worked out, and worded, afresh."""
    verdicts = TemplateCache(f"language-codes|{_registry_version()}", folder="languages")
    atexit.register(verdicts.flush)
    return verdicts


def _registry_version() -> str:
    """The installed registry's file, size and time (importlib.metadata costs ~10 ms): any
    upgrade or reinstall of langcodes starts new verdicts."""
    found = importlib.util.find_spec("langcodes")
    if found is None or not found.origin:  # pragma: no cover - langcodes is a dependency
        return "?"
    data = Path(found.origin).parent / "data_dicts.py"
    try:
        status = data.stat()
    except OSError:  # pragma: no cover - another layout: verdicts for this run only
        return f"{found.origin}:unknown"
    return f"{data}:{status.st_size}:{status.st_mtime_ns}"


@functools.lru_cache(maxsize=1024)  # a project has a handful of locales, 10,000 items
def language_problem(code: str) -> str | None:
    """Why `code` is not a language tag of the registry (with a suggestion), else None."""
    language, dash, region = code.partition("-")
    if language in _TWO_LETTER_LANGUAGES and (not dash or region in _TWO_LETTER_REGIONS):
        return None
    verdicts = _known_valid()
    if verdicts.get(code, "languages") == b"valid":
        return None
    problem = _language_problem(code)
    if problem is None:
        verdicts.put(code, b"valid", "languages")
    return problem


def _language_problem(code: str) -> str | None:
    import langcodes

    # langcodes also reads POSIX's `zh_CN`; a request's `language` must be the tag itself.
    valid = "_" not in code and langcodes.tag_is_valid(code)
    primary = code.split("-")[0].lower()
    if valid and primary not in _NOT_SPOKEN:
        return None
    if primary in _NOT_SPOKEN:
        return f"{code!r} means {_NOT_SPOKEN[primary]}, not a language a video can be in"
    guess = suggestion(code)
    hint = f" (did you mean {guess!r}?)" if guess else ""
    return f"{code!r} is not a language code of the IANA registry{hint}"


@functools.lru_cache(maxsize=1024)
def suggestion(code: str) -> str | None:
    """A registry tag the user probably meant by `code`, or None.

    `zh_CN` -> `zh-CN` (an underscore, as POSIX locales write it), `EN_us` -> `en-US`,
    `jp` -> `ja` (a region code written as a language: the language most spoken there,
    from CLDR's likely subtags as langcodes ships them).
    """
    import langcodes

    written = code.strip().replace("_", "-")
    if not written or not all(part.isalnum() for part in written.split("-")):
        return None
    candidate = canonical_locale(written)
    if candidate != code and _is_spoken(candidate):
        return candidate
    subtags = candidate.split("-")
    region = subtags[0].upper()
    if len(region) == 2 and region.isalpha() and not _private_region(region):
        try:
            likely = langcodes.Language.get(f"und-{region}").maximize()
        except (ValueError, LookupError):  # pragma: no cover - a bad region is caught above
            likely = None
        if likely is not None and likely.territory == region and likely.language:
            likely_language = likely.language
            guessed = canonical_locale("-".join([likely_language, *subtags[1:]]))
            if _is_spoken(guessed):
                return guessed
    return None


def _private_region(region: str) -> bool:
    """A private-use region (AA, QM-QZ, XA-XZ, ZZ): likely subtags say nothing of it."""
    return region in ("AA", "ZZ") or region[0] == "X" or (region[0] == "Q" and region[1] >= "M")


def _is_spoken(code: str) -> bool:
    import langcodes

    return (
        "_" not in code
        and langcodes.tag_is_valid(code)
        and code.split("-")[0].lower() not in _NOT_SPOKEN
    )
