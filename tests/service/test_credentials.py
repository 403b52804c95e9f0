"""specsync.service.credentials: the API base URL and credentials, from the environment."""

from __future__ import annotations

import socket

import pytest

from specsync.service.credentials import (
    DEFAULT_API_BASE,
    Credentials,
    api_base_from_env,
    credentials_from_env,
    is_loopback_host,
)
from specsync.service.errors import AuthError, ConfigError


def test_credentials_repr_hides_every_secret() -> None:
    shown = repr(Credentials(api_key="k-secret", app_id="app-secret", user_key="u-secret"))
    assert "secret" not in shown
    assert "api_key='***'" in shown
    assert repr(Credentials()) == "Credentials(api_key=None, app_id=None, user_key=None)"


def test_api_base_defaults_to_the_real_service() -> None:
    assert api_base_from_env({}) == DEFAULT_API_BASE
    assert api_base_from_env({"SPECSYNC_API_BASE": "  "}) == DEFAULT_API_BASE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://api.example.com/", "https://api.example.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.1.2.3:1", "http://127.1.2.3:1"),
        ("http://localhost:9/", "http://localhost:9"),
        ("http://[::1]:9", "http://[::1]:9"),
    ],
)
def test_api_base_accepts_https_and_loopback_http(value: str, expected: str) -> None:
    assert api_base_from_env({"SPECSYNC_API_BASE": value}) == expected


@pytest.mark.parametrize(
    "value",
    [
        "http://app.aistudios.com",
        "http://10.0.0.1:8080",
        "http://192.168.1.5",
        "http://localhost.example.com",
        "ftp://127.0.0.1",
        "app.aistudios.com",
        "https://",
        "https://host:notaport",
        "https://user:pw@host",
    ],
)
def test_api_base_refuses_what_could_leak_the_key_or_cannot_work(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        api_base_from_env({"SPECSYNC_API_BASE": value})
    assert "SPECSYNC_API_BASE" in str(caught.value)


def test_credentials_from_env_prefers_the_api_key() -> None:
    env = {"AISTUDIOS_API_KEY": " k1 \n", "AISTUDIOS_APP_ID": "a", "AISTUDIOS_USER_KEY": "u"}
    assert credentials_from_env(env) == Credentials(api_key="k1")
    pair = {"AISTUDIOS_APP_ID": "a", "AISTUDIOS_USER_KEY": "u"}
    assert credentials_from_env(pair) == Credentials(app_id="a", user_key="u")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, ["AISTUDIOS_API_KEY", "AISTUDIOS_APP_ID", "AISTUDIOS_USER_KEY"]),
        ({"AISTUDIOS_API_KEY": ""}, ["AISTUDIOS_API_KEY"]),
        ({"AISTUDIOS_APP_ID": "a"}, ["AISTUDIOS_USER_KEY"]),
        ({"AISTUDIOS_USER_KEY": "u"}, ["AISTUDIOS_APP_ID"]),
    ],
)
def test_missing_credentials_name_the_variables(env: dict[str, str], named: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        credentials_from_env(env)
    assert isinstance(caught.value, AuthError)  # stops the run like a refused key
    for name in named:
        assert name in str(caught.value)


def test_a_key_that_cannot_be_a_header_is_refused_without_being_shown() -> None:
    with pytest.raises(ConfigError) as caught:
        credentials_from_env({"AISTUDIOS_API_KEY": "abc\ndef-secret"})
    assert "secret" not in str(caught.value)
    assert "AISTUDIOS_API_KEY" in str(caught.value)


# -- loopback by address, and no key echoed from SPECSYNC_API_BASE ----------------------------


def stub_resolver(monkeypatch: pytest.MonkeyPatch, addresses: list[str]) -> list[str]:
    """In-process resolver answering every name with `addresses`; returns the names asked."""
    asked: list[str] = []

    def getaddrinfo(host: str, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_a_localhost_name_resolving_to_a_public_address_is_not_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = stub_resolver(monkeypatch, ["203.0.113.7"])
    with pytest.raises(ConfigError, match="plain http"):
        api_base_from_env({"SPECSYNC_API_BASE": "http://x.localhost:8080"})
    assert asked == ["x.localhost"]


def test_a_localhost_name_with_one_public_address_among_loopback_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub_resolver(monkeypatch, ["127.0.0.1", "198.51.100.1"])
    assert not is_loopback_host("x.localhost")


def test_a_localhost_name_resolving_to_loopback_only_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub_resolver(monkeypatch, ["127.0.0.1", "::1"])
    assert api_base_from_env({"SPECSYNC_API_BASE": "http://x.localhost:9"}) == (
        "http://x.localhost:9"
    )


def test_other_names_are_never_looked_up_and_never_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = stub_resolver(monkeypatch, ["127.0.0.1"])
    assert not is_loopback_host("myhost.example")
    assert asked == []


@pytest.mark.parametrize(
    "value",
    [
        "http://user:SECRETKEY123@127.0.0.1:9",
        "https://api.example.com/?key=SECRETKEY123",
        "https://api.example.com/#SECRETKEY123",
        "ftp://SECRETKEY123@host/?key=SECRETKEY123",
        "https://SECRETKEY123@host:notaport/?key=SECRETKEY123",
        "SECRETKEY123@nowhere?k=SECRETKEY123",
    ],
)
def test_errors_about_the_api_base_never_echo_its_user_info_or_query(value: str) -> None:
    with pytest.raises(ConfigError) as error:
        api_base_from_env({"SPECSYNC_API_BASE": value})
    assert "SECRETKEY123" not in str(error.value)
