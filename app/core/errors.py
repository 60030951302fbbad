"""Domain errors: services raise them, views and APIs turn them into messages.

Each carries a translated message (lazy, so it renders in the user's language)
and optionally the form field it concerns.
"""


class DomainError(Exception):
    """A rule was broken; nothing was changed. HTTP 400 / 422 in the API."""

    status = 422

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self):
        return str(self.message)


class NotFound(DomainError):
    """The record does not exist or is outside the user's scope (never say which)."""

    status = 404


class Forbidden(DomainError):
    """The user's role does not allow this."""

    status = 403
