"""Where the reports read: a read replica when REPORTS_DATABASE_URL is set, else the primary.

The dashboard, the accountability table and the quota and representatives' progress
reports only read, and read a whole jurisdiction. A county that puts a PostgreSQL
streaming replica beside its primary sets REPORTS_DATABASE_URL to it: those pages
then query the replica (a few seconds behind the primary, as replicas are), and the
primary keeps its time for the clerks' writes. Everything else — lists, forms,
permissions, the home page — reads the primary.
"""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from app.extensions import db

_engines: dict = {}


def reports_session():
    """The session report pages read with: the replica's (one per request), or db.session."""
    url = current_app.config.get("REPORTS_DATABASE_URL")
    if not url:
        return db.session
    session = g.get("minqing_reports_session")
    if session is None:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = create_engine(url, **current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        session = g.minqing_reports_session = Session(bind=engine, autoflush=False)
    return session


def close_reports_session(_error=None):
    session = g.pop("minqing_reports_session", None)
    if session is not None:
        session.close()
