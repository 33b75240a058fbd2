"""A real S3 API for the artifact store: moto's standalone server in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# The shared backend suite and helpers live with the unit tests.
HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parents[1] / "unit" / "artifacts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from artifacts_s3_server import AWS_ENV, BUCKET, S3Server, free_port  # noqa: E402


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, with a bucket; AWS_* set only meanwhile."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        for name, value in AWS_ENV.items():
            env.setenv(name, value)
        port = free_port()
        log = tmp_path_factory.mktemp("moto") / "moto.log"
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
