"""When an auth token should be replaced: read from its JWT payload, never verified.

The token from `POST /api/odin/v3/auth/token` is documented as valid for 24 hours; the
samples show a JWT. Only its `exp` claim is read (base64url JSON, no signature check: we are
not the party that trusts it, we only want to know when the service will stop accepting
it). A token that is not a JWT, or has no usable `exp`, simply has no known expiry: it is
kept until the service answers 401.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

# Refresh this long before `exp` at most (clock skew, a request in flight) ...
MAX_MARGIN_SECONDS = 300.0
# ... and never more than this share of the token's remaining life when it was fetched.
MARGIN_SHARE = 0.1


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim (seconds since the epoch) of a JWT, or None when there is none."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
        return None
    return float(exp)


def refresh_time(token: str, fetched_at: float) -> float | None:
    """When (time.time) to fetch a new token instead of sending this one; None: unknown."""
    expiry = jwt_expiry(token)
    if expiry is None:
        return None
    life = expiry - fetched_at
    if life <= 0:
        # Expired on arrival: our clock is off. Asking again at once would loop; the
        # service's 401 decides instead.
        return None
    return expiry - min(MAX_MARGIN_SECONDS, life * MARGIN_SHARE)
