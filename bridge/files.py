"""Writing a target's files: only inside ``allowed_paths``, atomically (temporary file in
the same directory + rename, the mode set before a byte lands), with the previous file
kept as a backup that ``restore`` puts back."""
from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


class FileRefused(Exception):
    """A path outside ``allowed_paths``, or an owner that cannot be set."""


def check_allowed(path: Path, allowed: tuple[Path, ...]) -> Path:
    """The path with its directory resolved (symlinks followed), if that directory is an
    allowed one or inside one."""
    if not path.is_absolute():
        raise FileRefused(f"{path} is not an absolute path.")
    directory = Path(os.path.realpath(path.parent))
    if not any(directory == root or root in directory.parents for root in allowed):
        raise FileRefused(f"{path} is outside the bridge's allowed_paths "
                          f"({', '.join(str(a) for a in allowed)}).")
    return directory / path.name


def _ids(owner: str | None, group: str | None) -> tuple[int, int]:
    try:
        uid = pwd.getpwnam(owner).pw_uid if owner else -1
        gid = grp.getgrnam(group).gr_gid if group else -1
    except KeyError as exc:
        raise FileRefused(f"Unknown user or group: {exc.args[0]}") from exc
    return uid, gid


def write_atomic(path: Path, data: bytes, mode: int, owner: str | None = None,
                 group: str | None = None) -> None:
    uid, gid = _ids(owner, group)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        if uid != -1 or gid != -1:
            try:
                os.fchown(fd, uid, gid)
            except PermissionError as exc:
                raise FileRefused(f"Cannot give {path} to {owner or ''}:{group or ''} "
                                  "(the bridge lacks the privilege).") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Backup:
    path: Path
    copy: Path | None          # None: there was no file before


def back_up(path: Path, suffix: str) -> Backup:
    """Keep the current file as ``<path><suffix>`` (same mode and owner)."""
    if not path.exists():
        return Backup(path, None)
    copy = path.with_name(path.name + suffix)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{copy.name}.")
    os.close(fd)
    try:
        shutil.copy2(path, tmp)
        stat = path.stat()
        # Same owner as the bridge already, or it could not have written the file.
        with contextlib.suppress(PermissionError):
            os.chown(tmp, stat.st_uid, stat.st_gid)
        os.replace(tmp, copy)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Backup(path, copy)


def restore(backup: Backup) -> None:
    """Put the previous file back (atomically), or remove a file that was new."""
    if backup.copy is None:
        backup.path.unlink(missing_ok=True)
        return
    fd, tmp = tempfile.mkstemp(dir=backup.path.parent, prefix=f".{backup.path.name}.")
    os.close(fd)
    shutil.copy2(backup.copy, tmp)
    os.replace(tmp, backup.path)
