"""Domain errors raised by services; views and APIs turn them into messages or 4xx answers."""


class ApplicationError(Exception):
    """Base of every error a service raises on purpose. `status` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str, *, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFound(ApplicationError):
    status = 404


class Conflict(ApplicationError):
    """The request clashes with the current state (an expired lease, a finished task)."""

    status = 409


class PermissionDenied(ApplicationError):
    status = 403


class RateLimited(ApplicationError):
    """Too many requests of one kind in a short time; `extra["retry_after"]` says when to retry."""

    status = 429
