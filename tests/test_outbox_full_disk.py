"""The outbox on a full disk: a real, small file system (tmpfs, mounted here as root) filled to the last byte.

A submission that cannot be saved says so in Chinese and gives the typed
text back; no partial file survives it (nor a crash: stale ones go at the
next start); /healthz fails with the reason while space is short or a
write fails, and recovers once space is back.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import good_form, proxy_headers
from webclient import Client

from liaison.git.repo import GitError
from liaison.submit.outbox import Outbox, not_saved
from liaison.submit.push import classify

SIZE_MB = 16
LONG_TEXT = "与学生座谈，了解学习和生活情况。" * 400  # 6,400 characters: 19 KB in the entry, more than the space left


def mount_tmpfs(folder: Path, size_mb: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        pytest.skip(f"无法挂载 tmpfs（需要 root 与挂载权限）：{done.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs at tmp_path/data, unmounted afterwards."""
    folder = tmp_path / "data"
    mount_tmpfs(folder, SIZE_MB)
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` to the last byte, then free ``leave`` bytes; the filler file.

    Unbuffered: a buffered file would keep what the last write could not
    place and raise ENOSPC again when it is closed (a flaky failure that
    depended on how much the service had written before).
    """
    filler = folder / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 1):
            block = b"\0" * size
            try:
                while os.write(descriptor, block):
                    pass
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(descriptor)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


def leftovers(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob(".tmp-*"))


def free_mb_floor(repo: Path, mb: int) -> None:
    config = repo / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"  min_free_mb: {mb}\n", encoding="utf-8")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("leave", [0, 8192], ids=["no-byte-left", "8-KB-left"])
def test_a_submission_that_cannot_be_saved_gives_the_text_back_and_leaves_nothing(
    form_repo, make_app, live, small_disk, leave
):
    free_mb_floor(form_repo, 1)
    app = make_app(form_repo, small_disk, start_worker=False)
    client = Client(live(app), proxy_headers("zhao"))
    hidden = client.new_form()
    filler = fill(small_disk, leave)

    reply = client.post("/new", {**hidden, **good_form(content=LONG_TEXT, place="礼堂东侧")})
    assert reply.status == 503
    assert "没有保存" in reply.text and "服务器出错" not in reply.text
    assert LONG_TEXT in reply.text and 'value="礼堂东侧"' in reply.text
    assert reply.field("token") == hidden["token"]  # pressing 提交 later is still one record
    assert leftovers(small_disk) == []
    assert app.config["LIAISON_SUBMITTER"].pending() == []

    health = client.get("/healthz")
    assert health.status == 503 and "磁盘" in " ".join(json.loads(health.body)["problems"])

    filler.unlink()  # the administrator frees space
    assert client.get("/healthz").status == 200
    again = client.post("/new", {**client.new_form(), "token": hidden["token"], **good_form(content=LONG_TEXT)})
    assert again.status == 303
    assert [e.yaml.count("与学生座谈") for e in app.config["LIAISON_SUBMITTER"].pending()] == [400]


@pytest.mark.timeout(120)
def test_healthz_fails_while_free_space_is_below_the_floor(form_repo, make_app, small_disk):
    free_mb_floor(form_repo, 8)
    app = make_app(form_repo, small_disk, start_worker=False)
    local = app.test_client()
    assert local.get("/healthz").status_code == 200
    filler = fill(small_disk, leave=4 * 1024 * 1024)  # 4 MB left: writes work, but below the 8 MB floor
    reply = local.get("/healthz")
    assert reply.status_code == 503 and not reply.json["ok"]
    assert any("剩余空间" in problem and "8 MB" in problem for problem in reply.json["problems"])
    filler.unlink()
    assert local.get("/healthz").status_code == 200


@pytest.mark.timeout(120)
def test_healthz_fails_when_the_data_folder_cannot_be_written(form_repo, make_app, small_disk):
    free_mb_floor(form_repo, 1)
    app = make_app(form_repo, small_disk, start_worker=False)
    local = app.test_client()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True, timeout=30)
    try:
        reply = local.get("/healthz")
        assert reply.status_code == 503
        assert any("无法写入" in problem for problem in reply.json["problems"])
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True, timeout=30)
    assert local.get("/healthz").status_code == 200


@pytest.mark.timeout(120)
def test_the_worker_keeps_going_when_it_cannot_write_an_entry_s_state(form_repo, make_app, small_disk):
    """The embedded remote lives on the full disk too: the push fails, and so does writing why."""
    free_mb_floor(form_repo, 1)
    app = make_app(form_repo, small_disk, start_worker=False)
    submitter = app.config["LIAISON_SUBMITTER"]
    local = app.test_client()
    page = local.get("/new", headers=proxy_headers("zhao"))
    token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    posted = local.post("/new", data={"csrf_token": csrf, "token": token, **good_form()}, headers=proxy_headers("zhao"))
    assert posted.status_code == 303
    filler = fill(small_disk)
    assert submitter.flush() is False  # no exception: the entry waits, its failure logged
    assert [e.token for e in submitter.pending()] == [token]
    assert leftovers(small_disk) == []
    filler.unlink()
    assert submitter.flush() is True and submitter.pending() == []


def test_a_partial_file_left_by_a_crash_is_removed_at_the_next_start(tmp_path):
    outbox = Outbox(tmp_path)
    stale = outbox.folder / ".tmp-crashed"
    stale.write_bytes(b'{"token": "half')
    old = time.time() - 3600
    os.utime(stale, (old, old))
    stale_sent = outbox.sent / ".tmp-crashed-too"
    stale_sent.write_bytes(b"")
    os.utime(stale_sent, (old, old))
    fresh = outbox.folder / ".tmp-being-written"  # another process (build.py outbox) writing now
    fresh.write_bytes(b"{")
    Outbox(tmp_path)
    assert not stale.exists() and not stale_sent.exists() and fresh.exists()


@pytest.mark.parametrize(
    "error, words",
    [(errno.ENOSPC, "磁盘已满"), (errno.EDQUOT, "磁盘已满"), (errno.EROFS, "只读"), (errno.EIO, "无法写入")],
)
def test_the_leader_is_told_why_the_record_was_not_saved(error, words):
    assert words in str(not_saved(OSError(error, os.strerror(error))))


@pytest.mark.parametrize(
    "said", ["fatal: unable to write loose object file: No space left on device", "error: Disk quota exceeded"]
)
def test_a_full_disk_at_either_end_defers_a_delivery_rather_than_needing_attention(said):
    """Not a refusal of the record: it is retried, and never ends as 待人工处理 for want of space."""
    assert classify(GitError(["push"], 128, said)).transient
