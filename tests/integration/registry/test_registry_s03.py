"""S03: tampered model metadata is refused by the manifest schema, with nothing imported
and nothing read outside the version's directory.

Versions are planted the way someone who can write the stores (but not sign) could: a
manifest naming a loader module, a code directory (as a key, and as files beside the
model), a weights path ``../outside.pkl``, an absolute path, a ``file:`` URI, and a flavor
not in the allowlist. Outside every root sit ``outside.pkl`` (a pickle that creates a
canary) and ``canary_loader.py`` (a module that creates one when imported), importable from
the loading process's path. A fresh process loads each version with an audit hook
(``sys.addaudithook``) recording every ``open`` and ``import``. Pass: every load refused
by schema validation; ``sys.modules`` unchanged across the refused loads (0 imports);
0 opens of anything in the outside folder; 0 canaries.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression

from conveyor.registry import register_model
from support.models import Canary, frame, plant_version
from support.projects import MakeProject

pytestmark = pytest.mark.integration
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
ROOT = Path(__file__).resolve().parents[3]

LOADER = """
import json, sys

outside = sys.argv[1]
opened, imported = [], []


def audit(event, args):
    if event == "open" and isinstance(args[0], (str, bytes)):
        path = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if path.startswith(outside):
            opened.append(path)
    elif event == "import" and args[0].startswith("canary_"):
        imported.append(args[0])


from conveyor.core import ConveyorError
from conveyor.registry import load_model
from conveyor.workspace import Workspace

with Workspace.open(sys.argv[2]) as ws:
    load_model(ws, "good")  # every module a legitimate load needs is imported now
    sys.addaudithook(audit)
    refusals = {}
    before = set(sys.modules)
    for uri in sys.argv[3:]:
        try:
            load_model(ws, uri)
            refusals[uri] = None
        except ConveyorError as exc:
            refusals[uri] = [type(exc).__name__, exc.message]
    new_modules = sorted(set(sys.modules) - before)
    opened_by_loads, imported_by_loads = list(opened), list(imported)
    # The watch works: one open and one import of ours, recorded.
    open(outside + "/probe.txt", "w").close()
    import canary_probe
print(json.dumps({"refusals": refusals, "opened": opened_by_loads,
                  "imported": imported_by_loads, "new_modules": new_modules,
                  "watch": [outside + "/probe.txt" in opened, imported == ["canary_probe"]]}))
"""


@SQLITE_ONLY
def test_s03_tampered_manifests_import_and_read_nothing(
    make_project: MakeProject, tmp_path: Path
) -> None:
    ws = make_project("")
    X, y = frame(60)
    register_model(ws, "good", LogisticRegression().fit(X, y))
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = pickle.dumps(Canary(outside / "canary-pickle"))
    (outside / "outside.pkl").write_bytes(evil)
    (outside / "canary_probe.py").write_text("")
    (outside / "canary_loader.py").write_text(
        f"open({str(outside / 'canary-import')!r}, 'w').close()\n"
    )
    digest = hashlib.sha256(evil).hexdigest()
    base = {
        "format": "conveyor-model/1",
        "flavor": "pickle",
        "file": "model.pkl",
        "sha256": digest,
        "size": len(evil),
    }
    cases = {
        "loader module": ({**base, "loader_module": "canary_loader"}, {}),
        "code key": ({**base, "code": "code"}, {"code/canary_loader.py": b"import os\n"}),
        "code files": (base, {"code/canary_loader.py": b"open('x', 'w')\n"}),
        "parent path": ({**base, "file": "../outside.pkl"}, {}),
        "absolute path": ({**base, "file": str(outside / "outside.pkl")}, {}),
        "file uri": ({**base, "file": (outside / "outside.pkl").as_uri()}, {}),
        "flavor": ({**base, "flavor": "python_function"}, {}),
        "python_function": ({**base, "python_function": {"loader_module": "canary_loader"}}, {}),
    }
    uris = {}
    for i, (case, (manifest, extra)) in enumerate(cases.items()):
        version = plant_version(
            ws,
            "tampered",
            {"model.pkl": evil, **extra},
            manifest=manifest,
            folder=tmp_path / f"v{i}",
        )
        uris[f"tampered/{version}"] = case

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(outside)]),
        "CONVEYOR_STORE": ws.config.store.url,
    }
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(LOADER), str(outside), str(ws.config.root), *uris],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for uri, refusal in report["refusals"].items():
        assert refusal is not None, f"{uris[uri]} loaded"
        kind, message = refusal
        assert kind == "UntrustedModelError", (uris[uri], refusal)
        expected = "directory holds" if uris[uri] == "code files" else "manifest"
        assert expected in message, (uris[uri], message)
    assert report["watch"] == [True, True]  # the hook saw the probe's open and import
    assert report["new_modules"] == [] and report["imported"] == []
    assert report["opened"] == []
    assert not (outside / "canary-pickle").exists() and not (outside / "canary-import").exists()
    print(f"\nS03: {len(uris)} tampered manifests refused, 0 imports, 0 outside opens")
