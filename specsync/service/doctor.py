"""`specsync doctor`: is this setup ready to export? Returns data; the CLI prints it.

Checks, each "ok", "fail" or "warn" (a warning does not fail the run: an unavailable list
endpoint is the service's business, and the exports' own answers will tell):
- the credentials are accepted (`GET /api/odin/v3/auth`, which answers `isAuthenticated`);
- the lockfile is not emulator-made (unless checking an emulator);
- every workspace id the manifests use is in the account's list; a model missing from
  the model lists is a warning (custom avatars may be missing from them).
Never shows a secret: the credential mode names environment variables only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from specsync.errors import UserError
from specsync.model import InputError, Item
from specsync.service.account import (
    WORKSPACE_KEYS,
    WORKSPACE_PATH,
    account_models,
    fetch_list,
    unknown_uses,
    unlisted_model_warning,
)
from specsync.service.apply import check_emulator_marking, check_service_host
from specsync.service.credentials import API_KEY_ENV, APP_ID_ENV, USER_KEY_ENV, Credentials
from specsync.service.errors import AuthError, ClientError
from specsync.state import journal as journal_mod
from specsync.state.lockfile_data import service_host
from specsync.state.lockfile_read import read_lockfile

AUTH_PATH = "/api/odin/v3/auth"
OK, FAIL, WARN = "ok", "fail", "warn"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | fail | warn
    detail: str


@dataclass
class DoctorReport:
    api_base: str
    credential_mode: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)


EMULATOR_MODE = "the built-in emulator's own throwaway key (no account, nothing exported)"


def offline_report(
    api_base: str, mode: str, setup: Sequence[Check], lockfile: Path, emulator: bool
) -> DoctorReport:
    """What doctor can say without asking the service (no credentials, or no API base):
    every local check, and the service's checks marked "not checked"."""
    report = DoctorReport(api_base, mode, list(setup))
    report.checks.append(check_lockfile(lockfile, emulator, api_base))
    for name in ("credentials", "model"):
        if not any(check.name == name for check in report.checks):
            report.checks.append(Check(name, WARN, "not checked: needs the service"))
    return report


def credential_mode(credentials: Credentials) -> str:
    if credentials.api_key:
        return f"API key ({API_KEY_ENV}; a pasted token expires after 24 hours)"
    return f"appId+userKey ({APP_ID_ENV} + {USER_KEY_ENV}; a token is fetched per run)"


# The field's name and place are not documented precisely: take the first boolean found.
_VERDICT_KEYS = ("isAuthenticated", "authenticated", "isAuth", "valid")


def _verdict(parsed: Any) -> bool | None:
    """The auth endpoint's yes or no, in the envelope's `data` or at the top level."""
    for holder in (parsed.get("data") if isinstance(parsed, dict) else None, parsed):
        if isinstance(holder, dict):
            for key in _VERDICT_KEYS:
                if isinstance(holder.get(key), bool):
                    return bool(holder[key])
    return None


def check_credentials(client: Any, credentials: Credentials) -> Check:
    try:
        status, parsed = client.get_json(AUTH_PATH)
    except AuthError as error:
        return Check("credentials", FAIL, str(error))
    except ClientError as error:
        return Check("credentials", FAIL, f"GET {AUTH_PATH} did not answer: {error}")
    accepted = _verdict(parsed)
    if status == 200 and accepted is True:
        return Check("credentials", OK, f"accepted (GET {AUTH_PATH})")
    if status == 200 and accepted is False:
        advice = (
            f"; a pasted token is valid for 24 hours: set {APP_ID_ENV} and {USER_KEY_ENV} instead"
            if credentials.api_key
            else ""
        )
        return Check(
            "credentials", FAIL, f"not accepted (GET {AUTH_PATH}: isAuthenticated false){advice}"
        )
    return Check("credentials", FAIL, f"GET {AUTH_PATH} answered HTTP {status} without a verdict")


def check_lockfile(path: Path, emulator: bool, api_base: str = "") -> Check:
    """The lockfile as apply would take it: readable, of the same kind of service (emulator
    or real) and recorded against the same host as `api_base` ("" when unknown)."""

    try:
        # A journal an interrupted apply left against another service: apply refuses it.
        journal = journal_mod.journal_path(path, create=False)
        journal_mod.check_journal_service(journal, path, emulator, urlsplit(api_base).netloc)
    except UserError as error:
        return Check("lockfile", FAIL, str(error))
    if not path.exists():
        return Check("lockfile", OK, f"{path}: none yet (the first apply writes it)")
    try:
        lock = read_lockfile(path)
    except UserError as error:
        return Check("lockfile", FAIL, f"{path}: unreadable: {str(error).splitlines()[0]}")
    # The same refusals apply makes, in its words: doctor must not call well what apply
    # refuses.
    try:
        check_service_host(lock, path, service_host(api_base))
        check_emulator_marking(lock, path, emulator)
    except InputError as error:
        return Check("lockfile", FAIL, "; ".join(p.message for p in error.problems))
    except UserError as error:
        return Check("lockfile", FAIL, str(error))
    kind = "emulator-made" if lock.emulator else "real exports"
    count = len(lock.entries)
    return Check("lockfile", OK, f"{path}: {count} {'entry' if count == 1 else 'entries'} ({kind})")


def check_emulator_base(client: Any, emulator: bool) -> tuple[bool, Check | None]:
    """(whether the API base is an emulator, a check to show when that matters).

    An emulator reached through SPECSYNC_API_BASE makes apply mark its run as an emulator
    run: the lockfile check then holds it to an emulator lockfile, as apply does.
    """
    if emulator:
        return True, None
    identify = getattr(client, "identify_service", None)
    if identify is None or identify() is not True:
        return False, None
    return True, Check(
        "API base",
        WARN,
        "answers as a specsync emulator: nothing sent there is really exported (apply marks "
        "the lockfile `emulator = true`)",
    )


def check_ids(client: Any, items: Sequence[Item], what: str) -> list[Check]:
    """Each id of `what` ("model" or "workspaceId") the manifests use, against the list.

    A model the lists do not name is a warning in apply's words (`unlisted_model_warning`):
    custom avatars may be missing from them. An unknown workspace fails.
    """
    label = "model" if what == "model" else "workspace"
    used = sorted({str(item.request[what]) for item in items if item.request.get(what)})
    if not used:
        return [Check(label, OK, f"the manifests set no {what}")]
    if what == "model":
        listed = account_models(client)
    else:
        listed = fetch_list(client, WORKSPACE_PATH, WORKSPACE_KEYS)
    if listed.ids is None:
        return [Check(label, WARN, f"{value}: not checked: {listed.note}") for value in used]
    unknown = unknown_uses(items, what, listed.ids)
    checks = []
    for value in used:
        users = unknown.get(value)
        if users is None:
            checks.append(Check(label, OK, f"{value}: known to the account"))
        elif what == "model":
            checks.append(Check(label, WARN, unlisted_model_warning(value, users, len(listed.ids))))
        else:
            places = ", ".join(f"{item.source.short} ({item.id})" for item in users[:5])
            more = f" and {len(users) - 5} more" if len(users) > 5 else ""
            checks.append(
                Check(
                    label,
                    FAIL,
                    f"{value}: not among the account's {len(listed.ids)} {label}s "
                    f"(GET {WORKSPACE_PATH}); used at {places}{more}",
                )
            )
    return checks


def run_doctor(
    api_base: str,
    credentials: Credentials,
    client: Any,
    lockfile: Path,
    items: Sequence[Item],
    *,
    emulator: bool = False,
) -> DoctorReport:
    mode = EMULATOR_MODE if emulator else credential_mode(credentials)
    report = DoctorReport(api_base, mode)
    is_emulator, base_check = check_emulator_base(client, emulator)
    if base_check is not None:
        report.checks.append(base_check)
    credentials_check = check_credentials(client, credentials)
    report.checks.append(credentials_check)
    report.checks.append(check_lockfile(lockfile, is_emulator, api_base))
    if emulator:
        # The built-in emulator lists only a stock model: checking against it proves nothing.
        report.checks.append(Check("model", OK, "not checked: an emulator takes any model id"))
        return report
    if credentials_check.status == FAIL:
        report.checks.append(Check("model", WARN, "not checked: the credentials were not accepted"))
        return report
    try:
        # An emulator behind SPECSYNC_API_BASE is asked for its model lists (a missing
        # model is a warning, as on the real service: docs/vendor.md, row 12); its
        # workspace list is made up.
        report.checks.extend(check_ids(client, items, "model"))
        if not is_emulator:
            report.checks.extend(check_ids(client, items, "workspaceId"))
    except AuthError as error:
        report.checks.append(Check("model", FAIL, str(error)))
    return report
