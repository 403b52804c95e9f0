"""The client against a fake that answers as the vendor documents: refusals, tokens."""

from __future__ import annotations

import time

import pytest

from specsync.item_words import Answer
from specsync.service.client import Client
from specsync.service.credentials import Credentials
from specsync.service.errors import AuthError
from specsync.service.tokens import jwt_expiry, refresh_time
from tests.helpers.vendor_fake import VendorFake, make_jwt, running_vendor_fake

REQUEST = {"language": "en", "text": "hello", "model": "M1", "isExport": True}


def _app_client(fake: VendorFake, **kwargs: object) -> Client:
    creds = Credentials(app_id=fake.app_id, user_key=fake.user_key)
    return Client(fake.url, creds, **kwargs)  # type: ignore[arg-type]


def test_http_200_with_success_false_is_a_failure_with_the_services_code_and_message() -> None:
    with running_vendor_fake(VendorFake(refuse_models=("M9",))) as fake, _app_client(fake) as c:
        result = c.export({**REQUEST, "model": "M9"})
    assert result.outcome == Answer.FAILED
    assert result.code == "MODEL_NOT_FOUND"
    assert "model M9 is not available to this account" in result.message
    assert result.project_id is None
    assert fake.exports == []


def test_a_refused_app_id_stops_with_an_auth_error_and_asks_for_a_token_once() -> None:
    with running_vendor_fake(VendorFake()) as fake:
        creds = Credentials(app_id=fake.app_id, user_key="wrong-user-key")
        with (
            Client(fake.url, creds) as client,
            pytest.raises(AuthError, match="AISTUDIOS_APP_ID and AISTUDIOS_USER_KEY"),
        ):
            client.export(REQUEST)
    assert fake.requests == ["POST /api/odin/v3/auth/token"]
    assert fake.exports == []


def test_the_token_is_fetched_once_for_many_requests() -> None:
    with running_vendor_fake() as fake, _app_client(fake) as client:
        results = [client.export(REQUEST) for _ in range(5)]
    assert [r.outcome for r in results] == [Answer.ACCEPTED] * 5
    assert fake.token_fetches == 1


def test_a_token_is_refreshed_before_the_expiry_its_jwt_names() -> None:
    with running_vendor_fake(VendorFake(token_ttl=1.0)) as fake, _app_client(fake) as client:
        assert client.export(REQUEST).outcome == Answer.ACCEPTED
        time.sleep(1.1)
        assert client.export(REQUEST).outcome == Answer.ACCEPTED
    assert fake.token_fetches == 2
    # Refreshed ahead of time: the service never had to refuse the old token.
    assert fake.unauthorized == 0
    assert len(fake.exports) == 2


def test_a_401_on_an_opaque_token_fetches_a_new_one_and_resends_once() -> None:
    fake = VendorFake(token_ttl=0.5)
    with running_vendor_fake(fake):
        # A token that is not a JWT has no known expiry: only the 401 tells.
        fake.new_token = _opaque(fake)  # type: ignore[method-assign]
        with _app_client(fake) as client:
            assert client.export(REQUEST).outcome == Answer.ACCEPTED
            time.sleep(0.6)
            second = client.export(REQUEST)
    assert second.outcome == Answer.ACCEPTED
    assert fake.unauthorized == 1
    assert fake.token_fetches == 2
    assert len(fake.exports) == 2  # the refused request was not processed, the resend was


def _opaque(fake: VendorFake):  # type: ignore[no-untyped-def]
    original = fake.new_token

    def new_token() -> str:
        token = original()
        opaque = f"opaque-{fake.token_fetches}"
        with fake._lock:
            fake._tokens[opaque] = fake._tokens.pop(token)
        return opaque

    return new_token


def test_a_401_on_a_pasted_key_says_it_may_have_expired_and_names_the_ci_variables() -> None:
    with (
        running_vendor_fake(VendorFake(api_key="old-pasted-token")) as fake,
        Client(fake.url, Credentials(api_key="expired-pasted-token")) as client,
        pytest.raises(AuthError) as caught,
    ):
        client.export(REQUEST)
    message = str(caught.value)
    assert "24 hours" in message
    assert "AISTUDIOS_APP_ID" in message and "AISTUDIOS_USER_KEY" in message
    assert "expired-pasted-token" not in message


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "a." + "e30" + ".c", make_jwt({"exp": "soon"}), make_jwt({"exp": True})],
)
def test_tokens_without_a_usable_exp_have_no_known_expiry(token: str) -> None:
    assert jwt_expiry(token) is None
    assert refresh_time(token, time.time()) is None


def test_refresh_comes_before_exp_and_never_loops_on_an_expired_token() -> None:
    now = 1_000_000.0
    day = make_jwt({"exp": now + 86400})
    assert jwt_expiry(day) == now + 86400
    assert now + 86400 - 300 == refresh_time(day, now)
    assert refresh_time(make_jwt({"exp": now + 10}), now) == pytest.approx(now + 9)
    assert refresh_time(make_jwt({"exp": now - 5}), now) is None


def test_the_vendor_fake_is_one_module_imported_one_way() -> None:
    import importlib
    import sys

    from tests.helpers import vendor_fake

    assert VendorFake is vendor_fake.VendorFake
    # The old second path (tests/service/vendor_fake.py as `service.vendor_fake`) is gone.
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("service.vendor_fake")
    assert [name for name in sys.modules if name.endswith("vendor_fake")] == [
        "tests.helpers.vendor_fake"
    ]
