"""Files the fake writes for a person or a CI system: whole, or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_whole(path: Path, data: bytes) -> None:
    """Write a file through a temporary sibling and a rename; raise OSError on failure.

    A reader never sees half a file, two writers of one path never share a
    temporary file, and a failed write leaves nothing behind. The file gets the
    usual permissions (0666 less the umask), as a plain write would give it.
    """
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise
