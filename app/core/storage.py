"""Where attachment bytes live: a small storage interface and its local-directory backend.

    store = storage()          # the configured backend (ATTACHMENT_DIR, ATTACHMENT_STORAGE)
    store.save(name, data)     # write a new object (never overwrites: names are fresh)
    store.read(name)           # its bytes, or None when it is missing
    store.delete(name)         # remove it (no error when it is already gone)

`LocalStorage` keeps each object as a file under ATTACHMENT_DIR (default instance/attachments),
two levels of sub-directories by the name's first characters. Several servers share one
directory (NFS or another network mount of the same path): names are random, writes go to a
temporary file renamed into place, so no server ever reads half a file. Another backend (an
S3-compatible object store) implements the same three methods and is named by
ATTACHMENT_STORAGE = "package.module:Class" (constructed with the app's config).

Files written during a transaction are remembered on the session (`track_new`): a rollback
deletes them, a commit forgets them, so a refused save leaves no orphan file behind. Files whose
rows a transaction deletes (`track_removed`) go only once it commits: a rollback keeps them.
"""

from __future__ import annotations

import importlib
import logging
import os
import tempfile

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PENDING = "_minqing_new_files"
DOOMED = "_minqing_removed_files"


class LocalStorage:
    """Objects as files under one directory (local disk or a mount shared by the servers)."""

    def __init__(self, root):
        self.root = os.path.abspath(root)

    def path_of(self, name):
        if not name or "/" in name or "\\" in name or name.startswith("."):
            raise ValueError(f"not a stored name: {name!r}")
        return os.path.join(self.root, name[:2], name[2:4], name)

    def save(self, name, data):
        path = self.path_of(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def read(self, name):
        try:
            with open(self.path_of(name), "rb") as fh:
                return fh.read()
        except (FileNotFoundError, ValueError):
            return None

    def delete(self, name):
        try:
            os.unlink(self.path_of(name))
        except (FileNotFoundError, ValueError):
            pass

    def exists(self, name):
        try:
            return os.path.exists(self.path_of(name))
        except ValueError:
            return False

    def names(self):
        """Every stored name (the check lists files without rows); unfinished writes left out."""
        if not os.path.isdir(self.root):
            return
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if not name.startswith(".") and self.path_of(name) == os.path.join(folder, name):
                    yield name


def attachment_dir(app=None):
    app = app or current_app
    return app.config.get("ATTACHMENT_DIR") or os.path.join(app.instance_path, "attachments")


def storage(app=None):
    """The configured attachment store."""
    app = app or current_app
    spec = app.config.get("ATTACHMENT_STORAGE") or ""
    if not spec or spec == "local":
        return LocalStorage(attachment_dir(app))
    module_name, _, class_name = spec.partition(":")
    return getattr(importlib.import_module(module_name), class_name)(app.config)


def track_new(session, store, name):
    """Remember a file written in the session's transaction: removed again if it rolls back."""
    session.info.setdefault(PENDING, []).append((store, name))


def track_removed(session, store, name):
    """Delete a file once the transaction that deleted its row commits (kept if it rolls back)."""
    session.info.setdefault(DOOMED, []).append((store, name))


@event.listens_for(Session, "after_commit")
def _keep_new_files(session):
    session.info.pop(PENDING, None)
    for store, name in session.info.pop(DOOMED, None) or ():
        try:
            store.delete(name)
        except OSError:  # pragma: no cover - the row is gone: `attachments check` lists the file
            log.warning("could not remove the file %s of a purged attachment", name)


@event.listens_for(Session, "after_soft_rollback")
def _drop_new_files(session, previous_transaction):
    if previous_transaction.nested:  # a savepoint rolled back: the transaction goes on
        return
    session.info.pop(DOOMED, None)
    for store, name in session.info.pop(PENDING, None) or ():
        try:
            store.delete(name)
        except OSError:  # pragma: no cover - a disk error while cleaning up: logged, not raised
            log.warning("could not remove the file %s of a refused save", name)
