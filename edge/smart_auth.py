"""SMART Backend Services: the bearer token of a FHIR source that needs one (pure core, thin shell).

SMART App Launch 2.x, "client-confidential-asymmetric" (the Backend Services profile)::

    GET  {base}/.well-known/smart-configuration       -> {"token_endpoint": ...}  (unless configured)
    POST {token_endpoint}   application/x-www-form-urlencoded
         grant_type=client_credentials
         scope=system/Observation.read
         client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
         client_assertion=<JWT, RS384 or ES384, header kid + typ JWT;
                           iss = sub = client_id, aud = token endpoint, exp <= now + 5 min, jti unique>
    -> 200 {"access_token": "...", "token_type": "bearer", "expires_in": 300, "scope": "..."}
    -> 400/401 {"error": "invalid_client", ...}

A token is asked for again before it expires (a fifth of its life or 30 s before, whichever is
sooner), and at once when the FHIR server answers 401 (revoked, or its clock runs ahead).
Only the OAuth ``error`` code of a refusal is logged; the token and the assertion never are.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from greenwire.shared.errors import DeviceError

if TYPE_CHECKING:
    import httpx

    from greenwire.edge.config import SmartBackendAuthConfig

log = logging.getLogger(__name__)

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S: Final = 300
REFRESH_MARGIN_S: Final = 30.0
DEFAULT_EXPIRES_IN_S: Final = 300
"""When a token response has no ``expires_in`` (it is only RECOMMENDED in OAuth 2.0)."""


def key_problem(path: Path, alg: str) -> str | None:
    """Why this PEM private key cannot sign ``alg`` (RS384: RSA >= 2048 bits; ES384: EC P-384), or None."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as exc:
        return f"SMART private key file {path} is not an unencrypted PEM private key ({type(exc).__name__})"
    if alg == "RS384":
        if not isinstance(key, rsa.RSAPrivateKey):
            return f"SMART private key file {path} is not an RSA key, which RS384 needs (ES384 takes EC P-384)"
        if key.key_size < 2048:
            return f"SMART private key file {path} is RSA of {key.key_size} bits: RS384 needs 2048 or more"
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP384R1):
        return f"SMART private key file {path} is not an EC P-384 key, which ES384 needs"
    return None


def assertion_claims(client_id: str, token_url: str, now: float, jti: str) -> dict[str, Any]:
    """The client assertion's claims (SMART Backend Services: exp at most five minutes ahead)."""
    return {"iss": client_id, "sub": client_id, "aud": token_url, "exp": int(now) + ASSERTION_LIFETIME_S,
            "iat": int(now), "jti": jti}


def sign_assertion(config: SmartBackendAuthConfig, token_url: str, now: float, jti: str | None = None) -> str:
    """A signed JWT client assertion for ``token_url``."""
    import jwt

    key = config.key_file.read_bytes()
    claims = assertion_claims(config.client_id, token_url, now, jti or secrets.token_urlsafe(24))
    return jwt.encode(claims, key, algorithm=config.alg, headers={"kid": config.kid, "typ": "JWT"})


def token_form(config: SmartBackendAuthConfig, assertion: str) -> dict[str, str]:
    """The token request's form fields."""
    return {"grant_type": "client_credentials", "scope": config.scope,
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and when to ask for the next one (monotonic seconds)."""

    value: str
    obtained_at: float
    expires_at: float

    def __repr__(self) -> str:
        return f"AccessToken(expires_at={self.expires_at:.0f})"  # never the token

    def fresh(self, now: float) -> bool:
        """True while the token is not yet due for a refresh."""
        margin = min(REFRESH_MARGIN_S, (self.expires_at - self.obtained_at) / 5)
        return now < self.expires_at - margin


@dataclass(frozen=True, slots=True)
class TokenRefused:
    """The token endpoint's refusal: its OAuth error code (``invalid_client``, ``invalid_scope``...)."""

    status: int
    error: str


def parse_token_response(status: int, body: Any, now: float) -> AccessToken | TokenRefused:
    """A token endpoint's answer to an :class:`AccessToken` or a :class:`TokenRefused`."""
    if status != 200 or not isinstance(body, dict):
        error = body.get("error") if isinstance(body, dict) else None
        return TokenRefused(status, str(error)[:64] if isinstance(error, str) else "no_error_code")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        return TokenRefused(status, "no_access_token")
    if str(body.get("token_type", "")).lower() != "bearer":
        return TokenRefused(status, "not_a_bearer_token")
    expires_in = body.get("expires_in", DEFAULT_EXPIRES_IN_S)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        expires_in = DEFAULT_EXPIRES_IN_S
    return AccessToken(token, now, now + float(expires_in))


class SmartTokens:
    """One source's access token: asked for when missing or due, refreshed at once on a 401."""

    def __init__(self, config: SmartBackendAuthConfig, base_url: str, source: str,
                 *, clock: Any = time.monotonic) -> None:
        self.config = config
        self._base = base_url
        self._source = source
        self._clock = clock
        self._token: AccessToken | None = None
        self._token_url = config.token_url
        self._lock = asyncio.Lock()
        self.requests = 0

    def invalidate(self) -> None:
        """Forget the token (the server answered 401): the next request asks for a new one."""
        self._token = None

    async def bearer(self, client: httpx.AsyncClient) -> str:
        """A token that is not due for refresh, asking the token endpoint if need be."""
        async with self._lock:
            token = self._token
            if token is not None and token.fresh(self._clock()):
                return token.value
            self._token = await self._request(client)
            return self._token.value

    async def _discover(self, client: httpx.AsyncClient) -> str:
        import httpx
        import orjson

        url = f"{self._base}/.well-known/smart-configuration"
        try:
            response = await client.get(url, headers={"Accept": "application/json"})
            body = orjson.loads(response.content) if response.status_code == 200 else None
        except (httpx.HTTPError, orjson.JSONDecodeError) as exc:
            raise DeviceError(f"wearable hub {self._source}: no SMART configuration at {url} "
                              f"({type(exc).__name__})") from exc
        endpoint = body.get("token_endpoint") if isinstance(body, dict) else None
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise DeviceError(f"wearable hub {self._source}: {url} names no token_endpoint; "
                              "set smart.token_url in the config")
        return endpoint

    async def _request(self, client: httpx.AsyncClient) -> AccessToken:
        import httpx
        import orjson

        if self._token_url is None:
            self._token_url = await self._discover(client)
        assertion = sign_assertion(self.config, self._token_url, time.time())
        self.requests += 1
        try:
            response = await client.post(self._token_url, data=token_form(self.config, assertion),
                                         headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise DeviceError(f"wearable hub {self._source}: token endpoint {self._token_url}: "
                              f"{type(exc).__name__}") from exc
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        outcome = parse_token_response(response.status_code, body, self._clock())
        if isinstance(outcome, TokenRefused):
            raise DeviceError(f"wearable hub {self._source}: token endpoint {self._token_url} answered "
                              f"{outcome.status} {outcome.error}")
        log.debug("wearable hub %s: new access token, %.0f s", self._source,
                  outcome.expires_at - outcome.obtained_at)
        return outcome
