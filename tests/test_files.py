"""Files the fake writes (reports, the CA, the CA bundle) are whole or absent."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from apollo_fake.files import write_whole


def test_a_file_is_written_whole_with_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    write_whole(target, b"{}\n")
    assert target.read_bytes() == b"{}\n"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    write_whole(target, b"[]\n")  # replaced, not appended
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert target.read_bytes() == b"[]\n"


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()  # a directory where the file should go: the rename fails
    with pytest.raises(OSError):
        write_whole(tmp_path / "taken", b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_writers_of_one_path_do_not_share_a_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    bodies = [bytes([65 + n]) * 200_000 for n in range(8)]
    threads = [threading.Thread(target=write_whole, args=(target, b)) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert target.read_bytes() in bodies  # one writer's whole body, never a mix
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
