"""S07 and S09 against the real server: deny by default (every route but the exact health
paths needs a token; admin routes the admin token), loopback by default, no exposure
without a token, foreign Host names and cross-origin writes refused, security headers on
every answer. The route list is read from the app, so a new route is checked too."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Route

from conveyor.core import Config
from conveyor.serve.app import create_app
from conveyor.serve.app._guard import PUBLIC_PATHS
from support.cli import make_cli
from support.serving import run_server, serving_project

pytestmark = [
    pytest.mark.integration,
    pytest.mark.parametrize("store_url", ["sqlite"], indirect=True),
]
TOKEN, ADMIN = "tok-0123456789abcdef", "adm-0123456789abcdef"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def _paths(ws) -> list[str]:  # type: ignore[no-untyped-def]
    """Every HTTP route of the app, its parameters filled in."""
    app = create_app(ws, "churn", log_predictions=False).app
    assert not [r for r in app.routes if not isinstance(r, Route)]  # no WebSocket route
    return sorted({re.sub(r"\{[^}]+\}", "churn", r.path) for r in app.routes})


def _variants(path: str) -> list[str]:
    """The path and the tricks that must not reach a public route's openness."""
    tricks = [path, path + "/", path + "x", path + "/..", path + "%2f", path + "?health"]
    return tricks + ["/healthx", "/readyz", "/x/health", "/v2/health/livex", "/admin/reload/"]


def test_s07_every_route_is_gated(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    paths = _paths(ws)
    assert "/invocations" in paths and "/admin/reload" in paths
    assert "/signals/alertmanager" in paths
    env = {"CONVEYOR_SERVE_TOKEN": TOKEN, "CONVEYOR_SERVE_ADMIN_TOKEN": ADMIN}
    open_answers: list[str] = []
    checked = 0
    with run_server(ws, args=("--no-log",), env=env) as server, server.client() as http:
        for path in paths:
            for url in _variants(path):
                for method in METHODS:
                    response = http.request(method, url)
                    checked += 1
                    public = url.split("?")[0] in PUBLIC_PATHS
                    if response.status_code < 400 and not public:
                        open_answers.append(f"{method} {url}: {response.status_code}")
        # With the prediction token, predictions work; admin routes still need theirs.
        user = {"authorization": f"Bearer {TOKEN}"}
        assert http.post("/admin/reload", headers=user).status_code == 401
        # Alerts posted from outside write events: the admin token, not the prediction one.
        assert http.post("/signals/alertmanager", headers=user, json={}).status_code == 401
        admin = {"authorization": f"Bearer {ADMIN}"}
        assert http.post("/admin/reload", headers=admin).status_code == 200
        assert http.post("/signals/alertmanager", headers=admin, json={}).status_code == 422
        assert http.get("/metrics", headers=user).status_code == 200
    assert not open_answers, open_answers
    log = server.output()
    assert TOKEN not in log and ADMIN not in log
    print(f"\nS07: {checked} calls on {len(paths)} routes without credentials: 0 ungated")


def test_s07_defaults_bind_loopback_and_exposure_needs_a_token(make_project, tmp_path) -> None:
    ws = make_project("")
    serving_project(ws)
    assert Config.load(tmp_path).serve.host == "127.0.0.1"
    cli = make_cli(ws.config.root)
    refused = cli(
        "serve", "churn", "--host", "0.0.0.0", env={"CONVEYOR_STORE": ws.config.store.url}
    )
    assert refused.returncode == 1
    assert "without a token" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr + refused.stdout


def test_s07_admin_routes_are_closed_without_an_admin_token(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    with run_server(ws, args=("--no-log",)) as server, server.client() as http:
        assert http.post("/admin/reload").status_code == 403
        assert http.post("/admin/swap/1").status_code == 403
        assert http.post("/signals/alertmanager", json={}).status_code == 403


def test_s09_foreign_hosts_and_origins_are_refused(make_project) -> None:
    ws = make_project("")
    serving_project(ws)
    paths = _paths(ws)
    with run_server(ws, args=("--no-log",)) as server, server.client() as http:
        for path in paths:
            assert http.get(path, headers={"host": "evil.example"}).status_code == 403, path
            assert http.post(path, headers={"host": "evil.example:8080"}).status_code == 403
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = http.request(
                method, "/invocations", headers={"origin": "https://evil.example"}
            )
            assert response.status_code == 403, method
            assert "access-control-allow-origin" not in response.headers
        preflight = http.options(
            "/invocations",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
        assert preflight.status_code == 403
        assert "access-control-allow-origin" not in preflight.headers
        # Same-origin writes and plain reads pass, each with the security headers.
        same = http.post("/feedback", json=[], headers={"origin": server.url})
        assert same.status_code != 403
        for response in (http.get("/health"), same, http.get("/nope")):
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
