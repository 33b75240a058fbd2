"""S01: hostile prediction payloads against the real server. Every case of the corpus, a
20 MB body with and without Content-Length, and a model that answers NaN and infinities:
0 responses 5xx, every bad input a 400/413/415/422 naming the field and echoing neither
the values nor the schema, valid JSON out, and the server's memory bounded."""

from __future__ import annotations

import socket

import orjson
import pytest

import hostile_payloads as hp
from conveyor.registry import promote, register_model
from conveyor.serve.runtime import set_deployment
from support.serving import NanModel, rss_mb, run_server, support_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]


def _serve_hostile(ws):  # type: ignore[no-untyped-def]
    version = register_model(
        ws, hp.MODEL, NanModel(), flavor="pickle", signature=hp.SIGNATURE
    ).version
    promote(ws, hp.MODEL, version, force_reason="S01")
    set_deployment(ws, hp.MODEL, model=hp.MODEL)
    env = {**support_env(), "CONVEYOR_SERVE_MAX_ROWS": str(hp.MAX_ROWS)}
    return run_server(ws, hp.MODEL, args=("--no-log",), env=env)


def _chunked_post(url: str, path: str, size: int) -> int:
    """POST ``size`` bytes with Transfer-Encoding: chunked (no Content-Length); the status."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"[" * 65536
        try:
            for _ in range(size // len(chunk)):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered 413 and closed before the end: what we want
        answer = sock.recv(4096).decode("latin-1")
    return int(answer.split()[1])


@pytest.mark.slow
def test_s01_hostile_payloads(make_project) -> None:
    ws = make_project("")
    statuses: dict[str, int] = {}
    failures: list[str] = []
    with _serve_hostile(ws) as server, server.client() as http:
        baseline = rss_mb(server.process.pid)
        for case in hp.CASES:
            headers = {} if case.content_type is None else {"content-type": case.content_type}
            response = http.post(hp.path(case), content=case.body, headers=headers)
            statuses[case.name] = response.status_code
            text = response.text
            if response.status_code not in case.expected:
                failures.append(f"{case.name}: {response.status_code} {text[:200]}")
                continue
            body = orjson.loads(response.content)  # always valid JSON
            fields = [e.get("field") for e in body.get("errors", [])] or [body.get("error")]
            if not any(fields):
                failures.append(f"{case.name}: no field named in {text[:200]}")
            for value in case.forbidden:
                if value in text:
                    failures.append(f"{case.name}: echoed {value!r}")
            # Each missing column is named as its own field; the schema itself (column
            # specs with their types) is never repeated back.
            if "'type'" in text or '"type"' in text or "ColumnSpec" in text:
                failures.append(f"{case.name}: echoed the signature")
        big = b'{"dataframe_split": {"columns": ["age"], "data": [' + b"1," * 10_000_000 + b"1]}}"
        declared = http.post(
            "/invocations", content=big, headers={"content-type": "application/json"}
        )
        statuses["20 MB with Content-Length"] = declared.status_code
        statuses["20 MB chunked"] = _chunked_post(server.url, "/invocations", 20 * 2**20)
        row = orjson.dumps(hp.split([hp.ROW] * 4))
        nan = http.post("/invocations", content=row, headers={"content-type": "application/json"})
        growth = rss_mb(server.process.pid) - baseline

    assert not failures, "\n".join(failures[:20])
    assert statuses["20 MB with Content-Length"] == 413
    assert statuses["20 MB chunked"] == 413
    assert nan.status_code == 200
    assert orjson.loads(nan.content)["predictions"] == [None, None, None, 1.0]
    assert not [name for name, status in statuses.items() if status >= 500]
    assert growth < 50, growth
    print(f"\nS01: {len(statuses)} hostile requests, 0 5xx; RSS +{growth:.1f} MB")


def test_a_model_answering_nan_gives_valid_json(make_project) -> None:
    ws = make_project("")
    with _serve_hostile(ws) as server, server.client() as http:
        response = http.post(
            "/invocations",
            content=orjson.dumps(hp.split([hp.ROW] * 4)),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert orjson.loads(response.content)["predictions"] == [None, None, None, 1.0]
        oip = http.post(
            hp.path(hp.Case("", None, b"", frozenset(), "oip")),
            content=orjson.dumps(hp.oip([hp.ROW])),
        )
        assert oip.status_code == 200, oip.text
        assert oip.json()["model_version"] == "1" and oip.headers["x-model-version"] == "1"
        kserve = http.post(
            hp.path(hp.Case("", None, b"", frozenset(), "kserve_v1")),
            content=orjson.dumps({"instances": [hp.ROW]}),
        )
        assert kserve.status_code == 200, kserve.text
        assert len(kserve.json()["prediction_ids"]) == 1
