"""The two-letter codes specsync answers without langcodes' registry are answered as the
registry answers them: every two-letter language, every language with any two-letter
region, and every two-letter spelling it does not list goes to the registry."""

from __future__ import annotations

import itertools
import random
import string

from specsync.manifests import languages
from specsync.manifests.languages import language_problem

TWO_LETTERS = ["".join(pair) for pair in itertools.product(string.ascii_lowercase, repeat=2)]


def test_every_listed_language_and_region_is_valid_in_the_registry() -> None:
    for code in sorted(languages._TWO_LETTER_LANGUAGES):
        assert languages._language_problem(code) is None, code
    for region in sorted(languages._TWO_LETTER_REGIONS):
        assert languages._language_problem(f"en-{region}") is None, region
    rng = random.Random(28)
    pairs = list(itertools.product(languages._TWO_LETTER_LANGUAGES, languages._TWO_LETTER_REGIONS))
    for language, region in rng.sample(sorted(pairs), 2000):
        assert languages._language_problem(f"{language}-{region}") is None, (language, region)


def test_two_letter_codes_get_the_registrys_answer() -> None:
    """The list leaves out nothing the registry takes: any two-letter language, or `en` with
    any two-letter region, gets the same answer (and wording) either way."""
    codes = [*TWO_LETTERS, *(f"en-{pair.upper()}" for pair in TWO_LETTERS)]
    for code in codes:
        assert language_problem(code) == languages._language_problem(code), code
    assert language_problem("jp") == (
        "'jp' is not a language code of the IANA registry (did you mean 'ja'?)"
    )
    # Other spellings are never taken from the list: the registry decides.
    for code in ("EN", "en-us", "en-", "-US", "en-US-x", "en_US", "zh-Hans"):
        assert code.partition("-")[0] not in languages._TWO_LETTER_LANGUAGES or (
            code.partition("-")[2] not in languages._TWO_LETTER_REGIONS
        )
        assert language_problem(code) == languages._language_problem(code), code
