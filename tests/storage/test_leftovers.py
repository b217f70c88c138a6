"""What killed writers leave behind is swept, what live writers write is not: partial
files of the filesystem store, unfinished multipart uploads of the S3 store."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from repoversion.storage import FileSystemStore
from repoversion.storage.s3 import S3Store

KILLED_WRITER = textwrap.dedent("""
    import os, signal, sys
    from repoversion.storage import FileSystemStore
    writer = FileSystemStore(sys.argv[1]).writer()
    writer.write(b"half a blob")
    print("written", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_filesystem_sweeps_the_parts_of_dead_writers_only(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(root)], capture_output=True, text=True
    )
    assert proc.returncode == -signal.SIGKILL and proc.stdout == "written\n", proc.stderr
    store = FileSystemStore(root)
    dead = list(store.tmp_dir.glob("*.part"))
    assert len(dead) == 1
    live = store.writer()
    live.write(b"still being written")
    try:
        assert store.sweep_leftovers() == 1
        assert [p.name for p in store.tmp_dir.glob("*.part")] != [dead[0].name]
        assert len(list(store.tmp_dir.glob("*.part"))) == 1  # the live writer's
        live.write(b" and more")
        ref = live.commit()
    finally:
        live.abort()
    assert store.read_bytes(ref.sha256) == b"still being written and more"
    assert store.sweep_leftovers() == 0
    assert list(store.tmp_dir.glob("*.part")) == []


def test_s3_aborts_stale_multipart_uploads_under_its_prefix(s3_store: S3Store) -> None:
    client, bucket = s3_store.client, s3_store.bucket
    key = s3_store.key_of("ab" * 32)
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)  # its writer died
    client.upload_part(
        Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024
    )
    foreign = client.create_multipart_upload(Bucket=bucket, Key="not-ours/file")
    # moto dates every upload 2010-11-10: within thirty years it is young enough to
    # belong to a live writer, and older than the default hour otherwise
    assert s3_store.sweep_leftovers(older_than=timedelta(days=365 * 30)) == 0
    assert s3_store.sweep_leftovers() == 1
    left = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in left] == [foreign["UploadId"]]
