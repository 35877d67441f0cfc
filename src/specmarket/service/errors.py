"""Errors of the service's domain, each with the HTTP status the API answers with."""

from __future__ import annotations

from specmarket.errors import SpecmarketError


class ServiceError(SpecmarketError):
    """A request the service refuses on purpose; ``status`` is the HTTP status code."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(message)


class NotFound(ServiceError):
    """No such market, or no such participant / report in it (404)."""

    status = 404


class Conflict(ServiceError):
    """The market's state does not allow it: closed, not yet cleared, duplicate id (409)."""

    status = 409


class Unauthorized(ServiceError):
    """Missing or unknown token (401)."""

    status = 401


class Forbidden(ServiceError):
    """A known token that may not do this: a participant on operator endpoints or on another
    market (403)."""

    status = 403
