"""Plain data that flows between the stages: locations, problems, item specs and items.

Every stage is a function over these frozen dataclasses; nothing here does I/O.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import repeat
from json.encoder import encode_basestring as _json_string  # json.dumps' own, in C
from typing import Any, overload

from specsync.errors import UserError

# Name of the fingerprint scheme, written into the lockfile so that a future scheme never
# looks like a change to every item (which would re-export, and re-bill, everything).
# v2 adds `resolution` (the video's quality) when it is set; a request without one hashes
# exactly as under v1, so v1 lockfiles are read as they are (see `legacy_fingerprint`).
FINGERPRINT_SCHEME = "sha256-json-v2"
FINGERPRINT_SCHEMES_READ = ("sha256-json-v1", FINGERPRINT_SCHEME)
FINGERPRINT_FIELDS = ("language", "text", "model", "isExport", "resolution")

# Order of the request body's keys, as the export page lists them (docs/vendor.md, row 1).
REQUEST_FIELDS = (
    "language",
    "text",
    "model",
    "isExport",
    "webhookUrl",
    "resolution",
    "workspaceId",
)

# The resolution the service renders at when a request sets none (docs/vendor.md): a
# request that spells it out asks for the same video.
DEFAULT_SERVICE_RESOLUTION = "1080"

PathKey = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file; line and column count from 1 (0 means "the whole file")."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        return f"{self.path}:{self.line}:{self.column or 1}"

    @property
    def short(self) -> str:
        """`path:line`, as `render --format json` gives in `source`."""
        return self.path if self.line <= 0 else f"{self.path}:{self.line}"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the user's input, at the place it concerns.

    `code` is the stable name of the kind of problem (docs/problems.md; `validate --format
    json` carries it); `items` the ids of the items it concerns, when known. Neither takes
    part in equality or order: one place and message is one problem.
    """

    location: Location
    message: str
    code: str = field(default="", compare=False)
    items: tuple[str, ...] = field(default=(), compare=False)

    def with_code(self, code: str) -> Problem:
        """This problem with `code` when it has none yet (a stage's default)."""
        return self if self.code else replace(self, code=code)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class InputError(UserError):
    """The user's input is wrong: report every problem, exit 1, never a traceback."""

    def __init__(self, problems: Sequence[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(Location("specsync"), problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Document:
    """One loaded YAML file: plain values plus a way back to where each value was written.

    `locate(path)` gives the location of the value at `path` (keys and list indexes from the
    document root, e.g. ("videos", "welcome", "script")); with `key=True`, the location of
    the mapping key itself (for "unknown key" messages). Unknown paths fall back to the
    nearest located ancestor.
    """

    path: str
    data: Any
    locate_fn: Callable[[PathKey, bool], Location] = field(repr=False, compare=False)

    def locate(self, path: Sequence[str | int] = (), *, key: bool = False) -> Location:
        return self.locate_fn(tuple(path), key)


@dataclass(frozen=True)
class ItemSpec:
    """One (video, locale) pair with everything resolved but the script not yet rendered."""

    id: str  # "VIDEO/LOCALE"
    video: str
    locale: str
    template: str  # the Jinja source of the script
    template_location: Location  # where the script's YAML scalar starts
    variables: Mapping[str, Any]  # merged vars, plus `locale` and `video`
    fields: Mapping[str, Any]  # model, isExport, and webhookUrl/resolution/workspaceId when set
    source: Location  # the line that defines this item (locale entry, else the video)
    # How the template's own line numbers map onto the manifest: template line N is
    # manifest line `template_first_line + N - 1` (0 when the scalar is folded or quoted
    # over several lines, where no exact mapping exists).
    template_first_line: int = 0


class _KeptFingerprint:
    """`Item.fingerprint`: computed on first use and kept as the item's own attribute,
    where every later read finds it (a descriptor without `__set__` gives way to the
    instance's attributes), read in C by `operator.attrgetter` too. Plan, apply and their
    reports each ask, and it hashes the whole text. Not functools.cached_property, which
    takes a lock for each first read before 3.12. Kept with `object.__setattr__`, not
    through `item.__dict__`: reading `__dict__` makes a dict of an instance's attributes
    (Python keeps them without one), a tracked object per item that also woke the cyclic
    collector in the middle of plan (~2 ms, and ~200 bytes an item)."""

    @overload
    def __get__(self, item: None, owner: type) -> _KeptFingerprint: ...

    @overload
    def __get__(self, item: Item, owner: type | None = None) -> str: ...

    def __get__(self, item: Item | None, owner: type | None = None) -> str | _KeptFingerprint:
        if item is None:  # asked of the class
            return self
        found = fingerprint(item.request)
        _keep(item, "fingerprint", found)
        return found


@dataclass(frozen=True)
class Item:
    """One rendered item: exactly one API request."""

    id: str
    video: str
    locale: str
    request: Mapping[str, Any]  # the exact body, keys in REQUEST_FIELDS order
    source: Location

    # The fingerprint of the request, computed on first use (`_KeptFingerprint`).
    fingerprint = _KeptFingerprint()


def fingerprint(request: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the fields that change the video.

    `webhookUrl` (and the routing-only fields) are left out on purpose: a new webhook must
    not re-render, and re-bill, every video.
    """
    get = request.get
    language, text, model, is_export = get("language"), get("text"), get("model"), get("isExport")
    resolution = get("resolution")
    if (
        resolution is None
        and type(language) is type(text) is type(model) is str
        and type(is_export) is bool
    ):
        # The usual request, spelled out as json.dumps below writes it (keys sorted, no
        # spaces, same string escaping) at a third of the cost: plan hashes every item.
        canonical = (
            f'{{"isExport":{"true" if is_export else "false"},'
            f'"language":{_json_string(language)},"model":{_json_string(model)},'
            f'"text":{_json_string(text)}}}'
        )
    else:
        values = {name: request.get(name) for name in FINGERPRINT_FIELDS}
        if resolution is None:
            # Unset: left out, so that the hash is the one v1 gave (no re-export on upgrade).
            del values["resolution"]
        canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _sha256(canonical.encode()).hexdigest()  # str.encode's own UTF-8


_sha256 = hashlib.sha256  # one name to look up: plan hashes every item


def fingerprints(items: Iterable[Item]) -> dict[str, str]:
    """Item id -> fingerprint of every item, each also kept as its `fingerprint`.

    The very values `fingerprint` gives (lockfiles hold them), in ~0.8 of its time: plan
    hashes every item. A usual request's canonical JSON is a head, the same for every item
    of one (language, model, isExport), a handful in a run, then its text: the head's hash
    is made once per call and copied for each item, instead of building and hashing the
    head again. Anything else takes `fingerprint` itself.
    """
    found = {}
    heads: dict[tuple[str, str, bool], Any] = {}  # (language, model, isExport) -> hash
    text_json, keep = _json_string, _keep
    for item in items:
        request = item.request
        value = None
        # A plain dict only: another mapping's [] may differ from its .get (a defaultdict's).
        # A resolution, even None, takes the general path (which leaves a None out).
        if type(request) is dict and "resolution" not in request:
            try:
                text, language = request["text"], request["language"]
                model, is_export = request["model"], request["isExport"]
            except KeyError:  # a field missing: null in the JSON, the general path's
                pass
            else:
                # Exact types, checked before the key is used: True == 1 and a str
                # subclass equals its text, so a looser key could hand one item another's
                # head.
                if (is_export is True or is_export is False) and (
                    type(text) is type(language) is type(model) is str
                ):
                    key = (language, model, is_export)
                    try:
                        try:
                            head = heads[key]
                        except KeyError:
                            head = heads[key] = _sha256(_head(language, model, is_export))
                        hashed = head.copy()
                        hashed.update((text_json(text) + "}").encode())
                        value = hashed.hexdigest()
                    except UnicodeEncodeError:  # a lone surrogate: the general path's error
                        pass
        if value is None:
            value = fingerprint(request)
        # As `Item.fingerprint` keeps it, without a call through the descriptor for each
        # of 10,000 items (one kept already is the same value, kept again).
        found[item.id] = value
        keep(item, "fingerprint", value)
    return found


def _head(language: str, model: str, is_export: bool) -> bytes:
    """The usual request's canonical JSON up to its text, as `fingerprint` writes it."""
    return (
        f'{{"isExport":{"true" if is_export else "false"},'
        f'"language":{_json_string(language)},"model":{_json_string(model)},"text":'
    ).encode()


_keep = object.__setattr__  # an Item is frozen to everyone else


def keep_fingerprints(items: Sequence[Item], values: Sequence[str]) -> None:
    """Keep `values` as the fingerprints of `items`, in order: values `fingerprints` gave
    for requests whose fields are exactly these items' (plan/fingerprint_memo.py)."""
    collections.deque(map(_keep, items, repeat("fingerprint"), values), maxlen=0)


def legacy_fingerprint(request: Mapping[str, Any]) -> str:
    """The fingerprint as specsync computed it before `resolution` counted (scheme v1).

    An entry recorded then says nothing of the resolution: it is taken as made at the
    request's current one, so an upgrade never re-exports.
    """
    if request.get("resolution") is None:
        return fingerprint(request)
    return fingerprint({k: v for k, v in request.items() if k != "resolution"})


@functools.lru_cache(maxsize=1024)  # a project has a handful of locales, 10,000 items
def canonical_locale(code: str) -> str:
    """A locale code in the case BCP 47 recommends (RFC 5646 section 2.1.1), nothing else.

    Language lowercase, a 4-letter script titlecase, a 2-letter region uppercase, anything
    after a singleton (`-x-`, `-u-`) lowercase: `PT-br` -> `pt-BR`, `zh-hant-tw` ->
    `zh-Hant-TW`. Only the case changes (no alias or deprecated-code mapping, which
    langcodes would do): what is sent stays what was written, so no video changes.
    """
    subtags = code.split("-")
    result = [subtags[0].lower()]
    after_singleton = False
    for subtag in subtags[1:]:
        after_singleton = after_singleton or len(subtag) == 1
        if after_singleton:
            result.append(subtag.lower())
        elif len(subtag) == 2:
            result.append(subtag.upper())
        elif len(subtag) == 4:
            result.append(subtag.title())
        else:
            result.append(subtag.lower())
    return "-".join(result)


def build_request(language: str, text: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The request body for one item, in the export page's key order (docs/vendor.md);
    optional keys only when set."""
    values: dict[str, Any] = {"language": language, "text": text, **fields}
    values.setdefault("isExport", True)
    return {name: values[name] for name in REQUEST_FIELDS if values.get(name) is not None}
