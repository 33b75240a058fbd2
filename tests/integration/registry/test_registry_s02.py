"""S02: malicious pickled models never run.

Eleven hostile files, each creating a canary file if anything unpickles it: a plain
pickle, a protocol-0 pickle, joblib (plain and compressed), cloudpickle, a gzipped
pickle, a pickle inside a zip, a pickle renamed ``.skops``, skops files holding
``builtins.eval`` / ``operator.attrgetter`` and ``operator.methodcaller``, and a file that
is not a zip offered as skops. Each is offered through the Python API
(``register_model`` of the file), through a version whose manifest points at it
(``load_model``, as each flavor that could take it, with no signature and with a forged
one) and through the CLI (``conveyor models load``). Pass: 0 canaries; every refusal says
"unsigned pickle" or "untrusted types: ..." (or that the signature does not match). A
pickle the store signed itself does load.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conveyor.cli import main
from conveyor.core import SignatureMismatchError, UntrustedModelError
from conveyor.registry import load_model, register_model
from support.models import Canary, payloads, plant_version
from support.projects import MakeProject

pytestmark = pytest.mark.integration
REFUSED = re.compile(r"unsigned pickle|untrusted types: ")


def test_s02_no_hostile_model_file_runs(
    make_project: MakeProject,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = make_project("")
    monkeypatch.setenv("CONVEYOR_STORE", ws.config.store.url)
    (tmp_path / "outside").mkdir()
    canary = tmp_path / "outside" / "canary"
    files = payloads(canary, tmp_path / "payloads")
    assert len(files) >= 10, sorted(files)
    refusals = 0
    for i, (name, path) in enumerate(files.items()):
        with pytest.raises(UntrustedModelError) as info:
            register_model(ws, "evil", path)
        assert REFUSED.search(info.value.message), (name, info.value.message)
        refusals += 1
        for flavor in ("pickle", "sklearn"):
            unsigned = plant_version(
                ws,
                "evil",
                {name: path.read_bytes()},
                flavor=flavor,
                folder=tmp_path / f"v{i}{flavor}",
            )
            with pytest.raises(UntrustedModelError) as info:
                load_model(ws, f"evil/{unsigned}")
            assert REFUSED.search(info.value.message), (name, flavor, info.value.message)
            capsys.readouterr()
            code = main(["-p", str(ws.config.root), "models", "load", f"evil/{unsigned}"])
            err = capsys.readouterr().err
            assert code == 1 and REFUSED.search(err) and "Traceback" not in err, (name, err)
            forged = plant_version(
                ws,
                "evil",
                {name: path.read_bytes()},
                flavor=flavor,
                tags={"conveyor.signature": "0" * 64},
                folder=tmp_path / f"f{i}{flavor}",
            )
            with pytest.raises(SignatureMismatchError, match="does not match"):
                load_model(ws, f"evil/{forged}")
            refusals += 3
    assert not canary.exists()
    print(f"\nS02: {len(files)} payloads, {refusals} refusals, 0 canaries")

    # The store's own signature is what lets a pickle load: then its code runs, by design.
    signed_canary = tmp_path / "signed-canary"
    model = register_model(ws, "trusted", Canary(signed_canary))
    assert model.flavor == "pickle" and not signed_canary.exists()
    load_model(ws, "trusted").close()  # unpickled into an open file: its code ran
    assert signed_canary.exists() and not canary.exists()
