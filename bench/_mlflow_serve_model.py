"""Save the serving benchmark's model as an MLflow model directory.

Run by ``bench_serving.py`` with the python of ``bench/.venvs/mlflow-serve`` (MLflow is not
a dependency of conveyor)::

    python bench/_mlflow_serve_model.py MODEL.skops EXAMPLE.json OUT_DIR

It loads the fitted model the benchmark wrote with skops (so MLflow serves the very same
estimator as the other targets) and saves it with ``mlflow.sklearn.save_model``, with the
input example's rows, so that the model has a signature and ``mlflow models serve``
enforces it, as it does for a model logged the usual way. MLflow saves it in its default
format (skops, here); for a forest, with ``sklearn.tree._tree.Tree`` among its trusted types,
which MLflow requires for that format. Prints one JSON object on stdout.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")


def main() -> int:
    model_path, example_path, out = sys.argv[1:4]
    import mlflow
    import mlflow.sklearn
    import pandas as pd
    import skops.io as sio

    # The benchmark wrote this file itself a moment ago: every type in it is trusted.
    model = sio.load(model_path, trusted=sio.get_untrusted_types(file=model_path))
    with open(example_path) as f:
        split = json.load(f)
    example = pd.DataFrame(split["data"], columns=split["columns"])
    # MLflow refuses to save a forest with skops unless told its tree type is trusted, as
    # skops' loader would be; a user saving a forest passes the same list.
    trusted = sio.get_untrusted_types(data=sio.dumps(model))
    mlflow.sklearn.save_model(
        model, out, input_example=example, skops_trusted_types=trusted or None
    )
    print(json.dumps({"version": mlflow.__version__, "path": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
