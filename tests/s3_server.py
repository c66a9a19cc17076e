"""A real S3-compatible server for the storage tests: moto's standalone server, started as its own
process on a free port of 127.0.0.1 (not an in-process mock), with one bucket per zone."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow.fs as pafs

START_TIMEOUT = 30.0
ACCESS_KEY = "testing-access-key"  # moto accepts any credentials
SECRET_KEY = "testing-secret-key"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[str]:
    """Run moto's S3 server; yields its endpoint URL, stops it on exit."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _admin(endpoint: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region="eu-west-2",
        allow_bucket_creation=True,
        allow_bucket_deletion=True,
    )


def make_buckets(endpoint: str, names: list[str]) -> None:
    filesystem = _admin(endpoint)
    for name in names:
        filesystem.create_dir(name)


def drop_buckets(endpoint: str, names: list[str]) -> None:
    """Empty and remove the buckets (a test leaves nothing behind on the server either)."""
    filesystem = _admin(endpoint)
    for name in names:
        filesystem.delete_dir(name)


def bucket_files(endpoint: str, bucket: str) -> list[str]:
    """Every object in ``bucket``, as ``bucket/key``."""
    selector = pafs.FileSelector(bucket, recursive=True, allow_not_found=True)
    return sorted(
        info.path
        for info in _admin(endpoint).get_file_info(selector)
        if info.type == pafs.FileType.File
    )
