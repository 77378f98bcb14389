"""The exception tree of the grid connectors.

Every failure of a provider is one of these, raised at the one place each HTTP
answer is read (:mod:`greenwire.cloud.grid.http`), with the provider and a message for a
person; the service loop tells by class whether to retry, wait or give up::

    GreenwireError                      (greenwire.shared.errors)
    └── GridError                       a grid-intensity provider failed us
        ├── ProviderUnavailable         unreachable, timed out or answered 5xx: retry later
        │   └── RateLimited             429; ``retry_after_s`` is the provider's Retry-After
        ├── AuthError                   401/403 the key, token or account was refused
        ├── ProviderRejected            4xx: the request is wrong (zone, dates); do not retry as is
        │   └── NoData                  the provider has no data for that zone and period
        └── ResponseError               a 2xx answer that is not in the documented shape

``str()`` of each is one line: ``"<provider>: <what happened>"``.
"""

from __future__ import annotations

from greenwire.shared.errors import GreenwireError


class GridError(GreenwireError):
    """A grid carbon-intensity provider could not give us a value."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider
        self.reason = message


class ProviderUnavailable(GridError):
    """The provider is unreachable, timed out or failed on its side; retrying later may help."""


class RateLimited(ProviderUnavailable):
    """The provider answered 429 Too Many Requests.

    ``retry_after_s`` is what its ``Retry-After`` header asked for (seconds), or None
    when it sent none; the caller then backs off on its own schedule.
    """

    def __init__(self, provider: str, message: str, *, retry_after_s: float | None) -> None:
        super().__init__(provider, message)
        self.retry_after_s = retry_after_s


class AuthError(GridError):
    """The provider refused our credentials (missing, wrong, expired and not renewable)."""


class ProviderRejected(GridError):
    """The provider refused the request itself (unknown zone, bad period); do not retry as is."""


class NoData(ProviderRejected):
    """The provider knows the zone but has no data for the period asked."""


class ResponseError(GridError):
    """The provider answered with success but the body is not in its documented shape."""
