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


class DomainErrors(DomainError):
    """Several rules broken at once (every problem of a form or a row, not just the first).

    `errors` is a list of DomainError, each with its field; the message sums them up.
    """

    def __init__(self, errors):
        errors = list(errors)
        super().__init__("；".join(str(e) for e in errors), field=errors[0].field if errors else None)
        self.errors = errors
        self.status = max((e.status for e in errors), default=422)


class Collector:
    """Gather the DomainErrors of many checks, then raise them together:

    errors = Collector()
    with errors.check():
        rule_one(...)
    with errors.check():
        rule_two(...)
    errors.raise_if_any()
    """

    def __init__(self):
        self.errors = []

    def check(self):
        return _Catch(self)

    def add(self, error):
        if isinstance(error, DomainErrors):
            self.errors.extend(error.errors)
        else:
            self.errors.append(error)

    def raise_if_any(self):
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise DomainErrors(self.errors)


class _Catch:
    def __init__(self, collector):
        self.collector = collector

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None and isinstance(exc, DomainError):
            self.collector.add(exc)
            return True
        return False
