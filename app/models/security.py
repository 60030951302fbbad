"""Login attempt counters (the login limit), kept in the database every worker shares."""

from flask_appbuilder import Model
from sqlalchemy import Column, Float, Integer, String


class RateLimitCounter(Model):
    """One fixed window of the login limit (AUTH_RATE_LIMIT) for one client address and route.

    Written only by app.services.ratelimit with single atomic statements, never through the
    ORM (so neither audited nor versioned); rows past their window are swept as it writes."""

    __tablename__ = "rate_limit_counter"
    __audit__ = False

    key = Column(String(255), primary_key=True)
    hits = Column(Integer, nullable=False, default=0)
    expires_at = Column(Float, nullable=False, index=True)  # seconds since the epoch
