"""The lockfile's data: entries, their history and the whole lockfile, as plan and apply
use them. Updating, reading, writing and merging it are the `lockfile_*` modules' jobs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from specsync.item_words import FINAL_STATES, RECORDED_STATES, RenderState
from specsync.model import FINGERPRINT_SCHEME

# Recorded for an export whose request set no resolution (the service's default).
DEFAULT_RESOLUTION = "default"

# An entry's render state once known (None until then): see `Entry.state`. The words are
# defined in `specsync.item_words`; this is the name the lockfile modules know them by.
STATES = RECORDED_STATES


@dataclass(frozen=True)
class Submission:
    """One earlier request of an item, as its entry's `history` keeps it.

    Usually an accepted export: the ids the service handed out, for what, and its last
    known render state (`done`/`failed`; None when unknown). A request whose outcome was
    never known and that a later export or reuse replaced is kept too, so that it is never
    forgotten: it has no ids (empty strings), the state `uncertain` and `attempted_at`.
    """

    project_id: str
    task_id: str
    submitted_at: str
    fingerprint: str
    state: str | None = None
    attempted_at: str | None = None

    @property
    def has_ids(self) -> bool:
        """Was this request accepted (ids known)? False for an uncertain attempt."""
        return bool(self.project_id)

    @property
    def known_good(self) -> bool:
        """An accepted export not known to have failed: one that may be reused."""
        return self.has_ids and self.state not in (RenderState.FAILED, RenderState.UNCERTAIN)

    def key(self) -> tuple[str, ...]:
        """What makes two records the same request: the ids, or for an attempt without
        ids its fingerprint and time."""
        if self.has_ids:
            return (self.project_id, self.task_id)
        return ("", self.fingerprint, self.attempted_at or "")


class Entry(NamedTuple):
    """What the lockfile knows about one item.

    `state` is None until known: "done"/"failed" once the render finished, "uncertain" when
    a request was sent and its outcome is unknown (the entry then keeps the ids of the
    previous successful export, if any, and `fingerprint` is the one attempted).
    `history` holds earlier exports, oldest first: no id is ever dropped.

    A named tuple rather than a frozen dataclass: plan builds one per lockfile entry, and
    a tuple is built several times faster than a guarded dataclass.
    """

    id: str
    fingerprint: str
    project_id: str | None = None
    task_id: str | None = None
    submitted_at: str | None = None
    state: str | None = None
    attempted_at: str | None = None
    history: tuple[Submission, ...] = ()
    # The fingerprinted request fields behind `fingerprint`, so that plan can say what
    # changed (a text diff a reviewer can read) without the manifests of that time.
    language: str | None = None
    model: str | None = None
    is_export: bool | None = None
    text: str | None = None
    # The resolution the export was made at: "default" when the request set none, None
    # in entries written before resolution counted (taken as made at the current one).
    resolution: str | None = None
    # The downloaded video of the current export (`specsync pull`): its SHA-256 (hex) and
    # length, so that a copy on disk can be checked without a request. None until pulled.
    sha256: str | None = None
    size: int | None = None

    @property
    def exported(self) -> dict[str, Any] | None:
        """{language, text, model, isExport[, resolution]} behind `fingerprint`, when recorded.

        `resolution` is there only when the entry knows it (None: made at the default).
        """
        if self.text is None:
            return None
        fields: dict[str, Any] = {
            "language": self.language,
            "text": self.text,
            "model": self.model,
            "isExport": self.is_export,
        }
        if self.resolution is not None:
            fields["resolution"] = (
                None if self.resolution == DEFAULT_RESOLUTION else self.resolution
            )
        return fields

    def with_request(self, request: Mapping[str, Any] | None) -> Entry:
        """This entry with the fingerprinted fields of `request` (unchanged when None)."""
        if not request:
            return self
        is_export = request.get("isExport")
        return self._replace(
            language=_str_or_none(request.get("language")),
            model=_str_or_none(request.get("model")),
            is_export=is_export if isinstance(is_export, bool) else None,
            text=_str_or_none(request.get("text")),
            resolution=resolution_marker(request),
        )

    def submission(self) -> Submission | None:
        """The current export as a history record (None when there is none), with its
        render state when known (an `uncertain` state is the attempt's, not the export's)."""
        if self.project_id is None or self.task_id is None:
            return None
        state = self.state if self.state in FINAL_STATES else None
        return Submission(
            self.project_id, self.task_id, self.submitted_at or "", self.fingerprint, state
        )

    def attempt(self) -> Submission | None:
        """The request of unknown outcome this entry records, as a history record (None
        unless the entry is `uncertain`)."""
        if self.state != RenderState.UNCERTAIN:
            return None
        return Submission(
            "", "", "", self.fingerprint, RenderState.UNCERTAIN, self.attempted_at or ""
        )


def resolution_marker(request: Mapping[str, Any]) -> str | None:
    """What an entry records of a request's resolution; None when the record predates it
    (a journal or entry written before resolution counted has no `resolution` key)."""
    if "resolution" not in request:
        return None
    value = request["resolution"]
    return DEFAULT_RESOLUTION if value is None else str(value)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class EntriesOnDemand(Mapping[str, Entry]):
    """A lockfile's entries, some made only when first asked for. Read-only.

    `plan` reads a 10,000-entry lockfile knowing every item's fingerprint; the entry of an
    item that did not change is checked where it stands (by an expression built from the
    field table: `lockfile_skim.CURRENT_EXPORT_BYTES`) and made into an Entry, by the
    same reader and constructor, only if something asks for it: plan's text and Markdown
    ask for none. `made` holds the entries read whole; `later` what `make(id, later[id])`
    makes one from, for entries that are current exports (ids, no `uncertain` state) at
    `fingerprints[id]` (`fingerprints` holds every id of `later`, and is kept as given).
    Every entry is made at most once.
    """

    __slots__ = ("_fingerprints", "_ids", "_later", "_made", "_make")

    def __init__(
        self,
        made: Mapping[str, Entry],
        later: Mapping[str, Any],
        fingerprints: Mapping[str, str],
        make: Callable[[str, Any], Entry],
    ) -> None:
        self._made = {key: entry for key, entry in made.items() if key not in later}
        self._later = dict(later)
        self._ids = [*self._later, *self._made]  # iterated in C (plan's orphans: a set)
        self._fingerprints = fingerprints
        self._make = make

    def __getitem__(self, key: str) -> Entry:
        entry = self._made.get(key)
        if entry is None:
            entry = self._made[key] = self._make(key, self._later[key])  # KeyError: none
            del self._later[key]  # what it was made from is let go
        return entry

    def __contains__(self, key: object) -> bool:
        return key in self._made or key in self._later

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def made_ids(self) -> list[str]:
        """The ids of the entries made (read whole, or made since when asked for)."""
        return list(self._made)

    def unmade_fingerprints(self) -> Mapping[str, str]:
        """id -> fingerprint of the entries not made yet, each a current export (ids, no
        `uncertain` state): all plan needs to call an item at that fingerprint unchanged."""
        later = self._later
        if len(later) == len(self._fingerprints):  # the ids of `later`, none made yet
            return MappingProxyType(self._fingerprints)
        return {key: fp for key, fp in self._fingerprints.items() if key in later}

    def with_made(self, more: Mapping[str, Entry]) -> EntriesOnDemand:
        """These entries and `more` (read whole; none of them is one of these)."""
        if not more:  # plan's usual case (nothing but the known entries): no copy
            return self
        return EntriesOnDemand({**self._made, **more}, self._later, self._fingerprints, self._make)


@dataclass(frozen=True)
class Lockfile:
    """A whole lockfile. `entries` is read-only and keyed by item id."""

    entries: Mapping[str, Entry] = field(default_factory=dict)
    emulator: bool = False
    fingerprint_scheme: str = FINGERPRINT_SCHEME
    # Ids of entries dropped with `specsync forget`, by item id: kept so no id is ever lost.
    forgotten: Mapping[str, tuple[Submission, ...]] = field(default_factory=dict)
    # The host the exports were applied against ("" when unknown: written before it was
    # recorded); ids of one service mean nothing to another.
    service: str = ""

    def __post_init__(self) -> None:
        # A private copy behind a read-only view: nobody can change a Lockfile in place.
        # Entries made on demand are read-only already (a copy would make every one).
        if not isinstance(self.entries, EntriesOnDemand):
            object.__setattr__(self, "entries", MappingProxyType(dict(self.entries)))
        object.__setattr__(self, "forgotten", MappingProxyType(dict(self.forgotten)))


def empty(emulator: bool = False) -> Lockfile:
    return Lockfile({}, emulator=emulator)


_HOST_NAME = re.compile(r"[a-z0-9._:-]+\Z")


def is_host_name(text: str) -> bool:
    """A host as `service_host` gives it (a name, IPv4 or unbracketed IPv6 address)."""
    return bool(_HOST_NAME.match(text))


def service_host(netloc_or_url: str) -> str:
    """The host name a lockfile records: lower case, without userinfo, port, path or query.

    The port is left out because an emulator's (and a loopback test service's) changes
    between runs; the host is what tells one service from another.
    """
    from urllib.parse import urlsplit

    text = netloc_or_url.strip()
    if not text:
        return ""
    parsed = urlsplit(text if "//" in text else f"//{text}")
    try:
        host = parsed.hostname or ""
    except ValueError:
        return ""
    return host.lower()
