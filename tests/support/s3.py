"""A real S3 API for tests: moto's standalone server in a subprocess, and its handle.

The ``s3_server`` fixture (``tests/integration/conftest.py``) runs :func:`run_s3_server`
once per test module; tests use the :class:`S3Server` it yields (endpoint, bucket, storage
options, a boto3 client).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BUCKET = "conveyor-artifacts-test"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,  # never read the developer's real profile
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str

    @property
    def storage_options(self) -> dict[str, Any]:
        return {"endpoint_url": self.endpoint, "key": "testing", "secret": "testing"}

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_s3_server(log_dir: Path) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with a bucket; AWS_* set only meanwhile."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        for name, value in AWS_ENV.items():
            env.setenv(name, value)
        port = free_port()
        log = log_dir / "moto.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        endpoint = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(
                            f"moto server did not start ({exc}); log:\n{log.read_text()[-3000:]}"
                        )
                    time.sleep(0.2)
            server = S3Server(endpoint=endpoint, bucket=BUCKET)
            server.client().create_bucket(Bucket=BUCKET)
            yield server
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
