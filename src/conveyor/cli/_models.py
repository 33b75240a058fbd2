"""``conveyor models``: registered models, their versions, aliases, lineage and loading."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._common import JsonOpt, open_workspace
from ._output import out, print_json, table, when

if TYPE_CHECKING:
    from ..registry import AliasMove, Model

app = typer.Typer(
    help="Registered models: list, show, promote, rollback, lineage, evaluation, reproduce, load.",
    no_args_is_help=True,
)

AliasOpt = Annotated[
    str | None,
    typer.Option(
        "--alias", "-a", help="The alias (default: the champion alias, registry.champion_alias)."
    ),
]
ActorOpt = Annotated[
    str | None, typer.Option("--actor", help="Who moves the alias (default: your user name).")
]


@app.command("list")
def list_(json_: JsonOpt = False) -> None:
    """List registered models with their latest version and aliases.

    Example:
        conveyor models list
    """
    from ..registry import list_models

    with open_workspace() as ws:
        models = list_models(ws)
    if json_:
        print_json([m.to_dict() for m in models])
        return
    table(
        ["model", "latest", "aliases", "description", "created (UTC)"],
        (
            [
                m.name,
                m.latest_version,
                ", ".join(f"{a}→{v}" for a, v in m.aliases.items()) or "-",
                m.description or "-",
                when(m.created_at),
            ]
            for m in models
        ),
        title="Models",
    )


@app.command("show")
def show(
    ref: Annotated[
        str, typer.Argument(help="A model (NAME), or a version: NAME/VERSION, NAME@ALIAS.")
    ],
    json_: JsonOpt = False,
) -> None:
    """Show a model (its versions, aliases and alias history) or one version (flavor,
    digest, signature, metrics, params, tags, evaluations).

    Example:
        conveyor models show churn@champion
    """
    from ..registry import alias_history, lineage, list_versions, model_aliases, parse_model_uri

    parsed = parse_model_uri(ref)
    with open_workspace() as ws:
        if parsed.version is None and parsed.alias is None:
            versions = list_versions(ws, parsed.name)
            aliases = model_aliases(ws, parsed.name)
            history = alias_history(ws, parsed.name)
            if json_:
                print_json(
                    {
                        "name": parsed.name,
                        "aliases": aliases,
                        "versions": [v.to_dict() for v in versions],
                        "alias_history": [h.to_dict() for h in history],
                    }
                )
                return
            _show_model(parsed.name, versions, aliases, history)
            return
        from ..registry import get_model

        model = get_model(ws, ref)
        details = lineage(ws, model.uri)
        aliases = model_aliases(ws, model.name)
    pointing = sorted(a for a, v in aliases.items() if v == model.version)
    if json_:
        print_json(
            model.to_dict()
            | {
                "aliases": pointing,
                "evaluations": details["evaluations"],
                "promotions": details["promotions"],
            }
        )
        return
    _show_version(model, pointing, details)


def _show_model(
    name: str, versions: list[Model], aliases: dict[str, int], history: list[AliasMove]
) -> None:
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    out.print(f"[bold]{name}[/] · {len(versions)} version(s)")
    table(
        ["version", "flavor", "aliases", "metrics", "run", "parent", "registered (UTC)"],
        (
            [
                v.version,
                v.flavor,
                ", ".join(sorted(by_version.get(v.version, []))) or "-",
                _metrics(v.metrics),
                v.run_id or "-",
                v.parent_version or "-",
                when(v.created_at),
            ]
            for v in versions
        ),
        title="Versions",
    )
    table(
        ["alias", "from", "to", "reason", "actor", "evaluation", "at (UTC)"],
        (
            [
                h.alias,
                h.from_version or "-",
                h.to_version,
                h.reason or "-",
                h.actor or "-",
                h.evaluation_id or "-",
                when(h.moved_at),
            ]
            for h in history
        ),
        title="Alias history",
    )


def _show_version(model: Model, aliases: list[str], details: dict[str, Any]) -> None:
    out.print(
        f"[bold]{model.uri}[/] · {model.flavor} · digest {model.digest[:12]}"
        + (f" · aliases {', '.join(aliases)}" if aliases else "")
    )
    signed = "signed by the store" if "conveyor.signature" in model.tags else "not signed"
    out.print(
        f"run {model.run_id or '-'} · parent {model.parent_version or '-'} · {signed}"
        + (f" · {model.description}" if model.description else "")
    )
    inputs = model.signature.get("inputs", [])
    table(
        ["input", "type", "required"],
        ([c["name"], c["type"], "yes" if c.get("required", True) else "no"] for c in inputs),
        title="Signature",
    )
    table(["metric", "value"], ([k, f"{v:g}"] for k, v in model.metrics.items()), title="Metrics")
    table(["param", "value"], ([k, repr(v)] for k, v in model.params.items()), title="Params")
    tags = {k: v for k, v in model.tags.items() if not k.startswith("conveyor.")}
    table(["tag", "value"], ([k, repr(v)] for k, v in tags.items()), title="Tags")
    table(
        ["evaluation", "passed", "baseline", "verifies", "at (UTC)"],
        (
            [
                e["id"],
                "yes" if e["passed"] else "no",
                e["baseline_version"] or "-",
                "yes" if e["verified"] else "[red]NO[/]",
                when(e["created_at"]),
            ]
            for e in details["evaluations"]
        ),
        title="Evaluations",
    )


def _metrics(metrics: dict[str, Any]) -> str:
    shown = [f"{k}={v:.4g}" for k, v in list(metrics.items())[:3]]
    return ", ".join(shown) + (" ..." if len(metrics) > 3 else "") if shown else "-"


def _actor(actor: str | None) -> str:
    if actor is not None:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return ""


def _print_move(move: AliasMove, json_: bool) -> None:
    if json_:
        print_json(move.to_dict())
        return
    before = "nothing" if move.from_version is None else f"version {move.from_version}"
    out.print(
        f"models:/{move.model}@{move.alias} now points at version {move.to_version} "
        f"(was {before})" + (f": {move.reason}" if move.reason else "")
    )


@app.command("promote")
def promote(
    name: Annotated[str, typer.Argument(help="The model.")],
    version: Annotated[int, typer.Argument(help="The version to promote.", min=1)],
    alias: AliasOpt = None,
    evaluation: Annotated[
        int | None,
        typer.Option("--evaluation", "-e", help="The evaluation that allows it (its id)."),
    ] = None,
    force: Annotated[
        str | None,
        typer.Option(
            "--force", help="Promote without a passed evaluation; the REASON is recorded."
        ),
    ] = None,
    expected: Annotated[
        int | None,
        typer.Option(
            "--expected-version",
            help="Only if the alias points at this version now (0: only if it is unset).",
            min=0,
        ),
    ] = None,
    actor: ActorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Point an alias (the champion by default) at a version, if the promotion policy
    allows: the champion needs a passed, verifying evaluation of that version, or --force.

    Example:
        conveyor models promote churn 3 --evaluation 12
    """
    from ..registry import promote as run

    with open_workspace() as ws:
        move = run(
            ws,
            name,
            version,
            alias,
            evaluation_id=evaluation,
            force_reason=force,
            actor=_actor(actor),
            expected_version=expected,
        )
    _print_move(move, json_)


@app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(help="The model.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (recorded with the move).")],
    alias: AliasOpt = None,
    to: Annotated[
        int | None,
        typer.Option(
            "--to", help="The version to go back to (default: the previous target).", min=1
        ),
    ] = None,
    actor: ActorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Move an alias back to where it pointed before its last move (or to --to VERSION).

    Example:
        conveyor models rollback churn --reason "error rate doubled"
    """
    from ..registry import rollback as run

    with open_workspace() as ws:
        move = run(ws, name, alias, to_version=to, reason=reason, actor=_actor(actor))
    _print_move(move, json_)


@app.command("lineage")
def lineage(
    uri: Annotated[str, typer.Argument(help="The version: NAME@ALIAS, NAME/VERSION or NAME.")],
    json_: JsonOpt = False,
) -> None:
    """Where a version came from: run, pipeline, params, code version, data snapshots,
    feature views, parent version, evaluations, and the promotions each allowed.

    Example:
        conveyor models lineage churn@champion
    """
    from ..registry import lineage as trace

    with open_workspace() as ws:
        found = trace(ws, uri)
    if json_:
        print_json(found)
        return
    out.print(f"[bold]{found['uri']}[/] · {found['flavor']} · digest {found['digest'][:12]}")
    out.print(f"parent: {found['parent'] or '-'}")
    run = found["run"]
    if run is None:
        out.print("run: - (registered outside a pipeline run)")
    else:
        code = run["code_version"]
        step = found["step_run"]
        out.print(
            f"run {run['id']} of pipeline {run['pipeline']} ({run['status']})"
            + (f", step {step['name']}" if step else "")
            + f" · params {run['params']}"
        )
        out.print(f"code version: {code or '-'}")
    table(
        ["dataset", "version", "digest", "step", "read/wrote"],
        (
            [s["dataset"], s["version"], s["digest"][:12], s["step"], s["direction"]]
            for s in found["snapshots"]
        ),
        title="Snapshots",
    )
    table(
        ["view", "digest", "step"],
        ([f["view"], f["digest"][:12], f["step"]] for f in found["feature_views"]),
        title="Feature views",
    )
    table(
        ["evaluation", "passed", "baseline", "verifies"],
        (
            [
                e["id"],
                "yes" if e["passed"] else "no",
                e["baseline_version"] or "-",
                "yes" if e["verified"] else "[red]NO[/]",
            ]
            for e in found["evaluations"]
        ),
        title="Evaluations",
    )
    table(
        ["alias", "from", "reason", "evaluation", "actor", "at (UTC)"],
        (
            [
                p["alias"],
                p["from_version"] or "-",
                p["reason"] or "-",
                p["evaluation_id"] or "-",
                p["actor"] or "-",
                when(p["moved_at"]),
            ]
            for p in found["promotions"]
        ),
        title="Promotions",
    )


@app.command("load")
def load(
    uri: Annotated[str, typer.Argument(help="The version: NAME@ALIAS, NAME/VERSION or NAME.")],
    input_: Annotated[
        Path | None,
        typer.Option(
            "--input",
            "-i",
            help="A CSV or Parquet file to predict on.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Predictions shown in the table.")
    ] = 20,
    json_: JsonOpt = False,
) -> None:
    """Load a version with every check (checksum, manifest, signature), then predict on
    --input FILE, or on a sample row built from its signature.

    Example:
        conveyor models load churn@champion --input new_customers.csv
    """
    from ..registry import get_model

    with open_workspace() as ws:
        model = get_model(ws, uri)
        loaded = model.load()
        frame = _read_input(input_) if input_ is not None else _sample(model.signature)
        predictions: Any = None
        note = ""
        if frame is not None:
            try:
                predictions = model.predict(frame)
            except Exception as exc:  # the model's own error: report it, the load is done
                if input_ is not None:
                    raise
                note = f"sample prediction failed: {type(exc).__name__}: {exc}"
        elif input_ is None:
            note = "no signature: pass --input FILE to predict"
    result = {
        "uri": model.uri,
        "flavor": model.flavor,
        "type": f"{type(loaded).__module__}.{type(loaded).__qualname__}",
        "signature": model.signature,
        "prediction_shape": None if predictions is None else list(_shape(predictions)),
    }
    values = None if predictions is None else _as_list(predictions)
    if json_:
        if input_ is not None:
            result["predictions"] = values
        if note:
            result["note"] = note
        print_json(result)
        return
    out.print(f"[green]loaded[/] {model.uri} · {model.flavor} · {result['type']}")
    inputs = model.signature.get("inputs", [])
    if inputs:
        out.print("inputs: " + ", ".join(f"{c['name']} ({c['type']})" for c in inputs))
    if note:
        out.print(f"[yellow]{note}[/]")
    if predictions is None:
        return
    out.print(f"prediction shape: {tuple(result['prediction_shape'] or ())}")
    if input_ is not None and values is not None:
        table(
            ["row", "prediction"],
            ([i, v] for i, v in enumerate(values[:limit])),
            title=f"Predictions (first {min(limit, len(values))} of {len(values)})",
        )


def _read_input(path: Path) -> Any:
    """The rows of a CSV or Parquet file, as a DataFrame."""
    from ..core import InvalidValueError
    from ..data import require_data_extra

    require_data_extra()
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt"):
        return pd.read_csv(path)
    raise InvalidValueError(
        f"--input must be a .csv or .parquet file. Got {path.name!r}.",
        hint="Convert the file, or name it with its format's extension.",
    )


_SAMPLE = {
    "string": "",
    "long": 0,
    "integer": 0,
    "double": 0.0,
    "float": 0.0,
    "boolean": False,
    "binary": b"",
}


def _sample(signature: dict[str, Any]) -> Any:
    """One row of neutral values in the signature's columns (None without a signature)."""
    inputs = signature.get("inputs") or []
    if not inputs:
        return None
    import pandas as pd

    row = {c["name"]: _SAMPLE.get(c["type"], pd.Timestamp(0)) for c in inputs}
    frame = pd.DataFrame([row])
    for c in inputs:  # keep the narrow types the signature names
        if c["type"] == "integer":
            frame[c["name"]] = frame[c["name"]].astype("int32")
        elif c["type"] == "float":
            frame[c["name"]] = frame[c["name"]].astype("float32")
    return frame


def _shape(predictions: Any) -> tuple[int, ...]:
    shape = getattr(predictions, "shape", None)
    if shape is not None:
        return tuple(int(n) for n in shape)
    return (len(predictions),)


def _as_list(predictions: Any) -> list[Any]:
    tolist = getattr(predictions, "tolist", None)
    values = tolist() if callable(tolist) else list(predictions)
    return [v.decode() if isinstance(v, bytes) else v for v in values]
