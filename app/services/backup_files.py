"""The attachment files (照片/附件) in a backup: an archive next to the database's backup.

`minqing backup PATH` writes the database to PATH and, when the attachment store is a local
directory, the files to PATH.files.tar: every stored file under files/, and MANIFEST.json with
each file's size and SHA-256 and the SHA-256 of the database backup it belongs to. Photos and
PDFs are compressed already: the archive is not.

A restore checks the archive completely before the database is touched: it must be ours, belong
to that very database backup, and every file must match its checksum. The files are unpacked
beside the store, and once the database is restored they replace it in one rename: the store is
then exactly as at backup time (files added since are gone, removed ones are back). A backup
without an archive (made before files were backed up, or of a store that is not a directory)
leaves the store as it is; `minqing attachments check` then lists what does not agree.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile

from app.services.backup import BackupError

FORMAT = "minqing-attachments"
VERSION = 1
MANIFEST = "MANIFEST.json"
PREFIX = "files/"
CHUNK = 1024 * 1024


def archive_path(path):
    return f"{path}.files.tar"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_files(store, path):
    """Write the store's files to PATH.files.tar; returns (archive path, number of files)."""
    names = sorted(store.names())
    entries = []
    target = archive_path(path)
    partial = f"{target}.partial"
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            data = store.read(name)
            if data is None:  # deleted while we walked: its row is gone too (a purge)
                continue
            info = tarfile.TarInfo(PREFIX + name)
            info.size = len(data)
            info.mode = 0o640
            tar.addfile(info, io.BytesIO(data))
            entries.append({"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        manifest = json.dumps(
            {"format": FORMAT, "version": VERSION, "database_sha256": sha256_of(path), "files": entries},
            ensure_ascii=False,
        ).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    os.replace(partial, target)  # a backup cut short never looks complete
    return target, len(entries)


def _refuse(archive, why):
    return BackupError(
        f"附件归档 {archive} 无法使用：{why}。数据库和附件均未改动。"
        f" (The attachment archive {archive} cannot be used; nothing was changed.)"
    )


def _manifest(tar, archive, database_path):
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.loads(tar.extractfile(member).read().decode())
    except (KeyError, AttributeError, ValueError, UnicodeDecodeError):
        raise _refuse(archive, "它不是本系统的附件归档（缺少或无法读取清单）") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise _refuse(archive, "它不是本系统的附件归档（清单格式不符）")
    if manifest.get("database_sha256") != sha256_of(database_path):
        raise _refuse(archive, "它与这个数据库备份不是同一次备份生成的")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise _refuse(archive, "清单不完整")
    return {entry.get("name"): entry for entry in files if isinstance(entry, dict)}


def stage_files(store, path):
    """Check PATH.files.tar and unpack it beside the store: the staging directory to swap in
    after the database is restored, or None when the backup has no archive. BackupError (and
    nothing left behind) when the archive is damaged, not ours, or of another backup."""
    archive = archive_path(path)
    if not os.path.exists(archive):
        return None
    staging = f"{store.root.rstrip(os.sep)}.restore-{secrets.token_hex(4)}"
    staged = type(store)(staging)
    try:
        with tarfile.open(archive, "r:") as tar:
            expected = _manifest(tar, archive, path)
            seen = set()
            for member in tar:
                if member.name == MANIFEST:
                    continue
                name = member.name[len(PREFIX) :] if member.name.startswith(PREFIX) else None
                entry = expected.get(name)
                if not member.isfile() or entry is None or name in seen:
                    raise _refuse(archive, f"其中有清单以外的内容（{member.name}）")
                data = tar.extractfile(member).read()
                if len(data) != entry.get("size") or hashlib.sha256(data).hexdigest() != entry.get("sha256"):
                    raise _refuse(archive, f"文件 {name} 已损坏（校验值不符）")
                staged.save(name, data)
                seen.add(name)
            if seen != set(expected):
                raise _refuse(archive, f"缺少 {len(set(expected) - seen)} 个文件")
    except (tarfile.TarError, OSError, EOFError) as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise _refuse(archive, f"归档已损坏（{type(err).__name__}）") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.makedirs(staging, exist_ok=True)  # an empty store is a directory too
    return staging


def discard(staging):
    if staging:
        shutil.rmtree(staging, ignore_errors=True)


def swap_in(store, staging):
    """Put the unpacked files in the store's place (one rename each way), then drop the old ones."""
    root = store.root.rstrip(os.sep)
    old = f"{root}.old-{secrets.token_hex(4)}"
    if os.path.exists(root):
        os.replace(root, old)
    os.replace(staging, root)
    shutil.rmtree(old, ignore_errors=True)
