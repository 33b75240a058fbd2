"""Promotion and rollback: alias moves under the project's promotion policy.

Every move is one store transaction that updates the alias, appends its history and an
``io.conveyor.alias.moved`` event (see ``conveyor.store.move_alias``), so a reader sees
the old target or the new one. The policy (``[registry]`` in ``conveyor.toml``) guards
one alias, ``champion_alias``: with ``require_evaluation``, only a version with a passed
evaluation of that very version, whose digest and store signature verify, may become it.
``force_reason`` overrides the policy and is recorded in the history and the event. The
evaluation that allowed a move is recorded in its event (``evaluation_id``). Other aliases
move freely. A rollback returns an alias to an earlier target; it needs a reason, and is
compare-and-set on the current target, so two rollbacks at once cannot both step back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import store as st
from ..core import (
    InvalidValueError,
    PromotionRefusedError,
    validate_name,
)
from ._evaluations import check_evaluation, check_version

if TYPE_CHECKING:
    from ..workspace import Workspace


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias, with the versions as numbers.

    Attributes:
        id: The history row's id.
        model: The model's name.
        alias: The alias moved.
        from_version: Where it pointed before (None: it was created).
        to_version: Where it points after.
        reason: Why: ``evaluation 12 passed``, ``forced: ...``, ``rollback: ...`` or a
            free text.
        actor: Who moved it, as the caller said.
        moved_at: When, in epoch milliseconds.
        evaluation_id: The evaluation that allowed the move, if one did.
    """

    id: int
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    reason: str
    actor: str
    moved_at: int
    evaluation_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "alias": self.alias,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "reason": self.reason,
            "actor": self.actor,
            "moved_at": self.moved_at,
            "evaluation_id": self.evaluation_id,
        }


def promote(
    ws: Workspace,
    name: str,
    version: int,
    alias: str | None = None,
    *,
    evaluation_id: int | None = None,
    force_reason: str | None = None,
    actor: str = "",
    expected_version: int | None = None,
) -> AliasMove:
    """Point ``alias`` of model ``name`` at ``version``, if the promotion policy allows.

    For the champion alias (``registry.champion_alias``, default ``champion``) with
    ``registry.require_evaluation``, the version needs a passed evaluation of itself whose
    digest and signature verify: ``evaluation_id``, or else its newest evaluation.

    Args:
        alias: The alias to move (default: the champion alias).
        evaluation_id: The evaluation that allows the move (checked to be of ``version``).
        force_reason: Move without a passed evaluation; the reason is recorded.
        actor: Who promotes, recorded with the move.
        expected_version: Compare-and-set: move only if the alias points at this version
            now (0: only if it does not exist yet).

    Raises:
        PromotionRefusedError: the policy refuses (no evaluation, or it did not pass).
        SignatureMismatchError: the evaluation does not verify.
        ConflictError: ``expected_version`` did not match, or the version is not ready.
        NotFoundError: no such model, version or evaluation.

    Example:
        >>> promote(ws, "churn", 3, evaluation_id=12)  # doctest: +SKIP
    """
    policy = ws.config.registry
    alias = validate_name(alias or policy.champion_alias, what="alias")
    check_version(version)
    if force_reason is not None and (not isinstance(force_reason, str) or not force_reason.strip()):
        raise InvalidValueError(
            "A forced promotion needs a reason (the text is recorded). Got an empty one.",
            hint="Say why, e.g. force_reason='hotfix for a broken champion'.",
        )
    guarded = alias == policy.champion_alias and policy.require_evaluation
    if evaluation_id is None and guarded and force_reason is None:
        found = st.list_evaluations(ws.store, name, version)
        if not found:
            raise _refused(name, version, alias, "it has no evaluation")
        evaluation_id = found[-1].id
    key = st.signing_key(ws.store) if evaluation_id is not None else b""

    def vouch(evaluation: st.EvaluationRecord) -> str:
        # Inside the move's transaction: the evaluation read there is the one judged.
        if (evaluation.model, evaluation.version) != (name, version):
            raise InvalidValueError(
                f"Evaluation {evaluation.id} is of models:/{evaluation.model}/"
                f"{evaluation.version}, not of models:/{name}/{version}.",
                hint=f"Pass an evaluation of version {version}.",
                evaluation_id=evaluation.id,
            )
        check_evaluation(key, evaluation)
        if guarded and force_reason is None and not evaluation.passed:
            raise _refused(name, version, alias, f"its evaluation {evaluation.id} did not pass")
        return _reason(evaluation, force_reason)

    move = st.move_alias(
        ws.store,
        name,
        alias,
        version,
        expected_version=expected_version,
        reason=_reason(None, force_reason),
        actor=actor,
        evaluation_id=evaluation_id,
        vouch=vouch if evaluation_id is not None else None,
    )
    return AliasMove(
        id=move.id,
        model=name,
        alias=alias,
        from_version=move.from_version,
        to_version=version,
        reason=move.reason,
        actor=move.actor,
        moved_at=move.moved_at,
        evaluation_id=move.evaluation_id,
    )


def _reason(evaluation: st.EvaluationRecord | None, force_reason: str | None) -> str:
    verdict = ""
    if evaluation is not None:
        verdict = f"evaluation {evaluation.id} {'passed' if evaluation.passed else 'failed'}"
    if force_reason is not None:
        return f"forced: {force_reason.strip()}" + (f" ({verdict})" if verdict else "")
    return verdict


def _refused(name: str, version: int, alias: str, why: str) -> PromotionRefusedError:
    return PromotionRefusedError(
        f"Version {version} of model {name!r} may not become {alias!r}: {why}, and the "
        "promotion policy (registry.require_evaluation) asks for a passed evaluation of "
        "that version.",
        hint=f"Evaluate it, or force with a reason: conveyor models promote {name} {version} "
        f"--force 'REASON'",
        model=name,
        version=version,
        alias=alias,
    )


def rollback(
    ws: Workspace,
    name: str,
    alias: str | None = None,
    *,
    to_version: int | None = None,
    reason: str,
    actor: str = "",
) -> AliasMove:
    """Move ``alias`` back: to ``to_version``, or to where it pointed before its last move.

    A second rollback without ``to_version`` undoes the first (the alias's previous target
    is then the version rolled back from). The move is compare-and-set on the current
    target and recorded with ``rollback: <reason>``; it needs no evaluation.

    Raises:
        InvalidValueError: no reason, or nothing to roll back to.
        NotFoundError: no such model, alias or version.
        ConflictError: the alias moved meanwhile.

    Example:
        >>> rollback(ws, "churn", reason="p99 latency doubled")  # doctest: +SKIP
    """
    alias = validate_name(alias or ws.config.registry.champion_alias, what="alias")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidValueError(
            "A rollback needs a reason (the text is recorded). Got an empty one.",
            hint="Say why, e.g. reason='error rate doubled after the last promotion'.",
        )
    # The current target and the one before it come from one read of the history, and
    # the move is compare-and-set on that current target: a move landing in between makes
    # this rollback fail instead of stepping back from the wrong version.
    history = st.alias_history(ws.store, name, alias)
    if not history:
        st.resolve_alias(ws.store, name, alias)  # raises: no such alias (did you mean ...)
    last = history[-1]
    current = last.to_version or st.resolve_alias(ws.store, name, alias).version
    if to_version is None:
        if last.from_version is None:
            raise InvalidValueError(
                f"Alias {alias!r} of model {name!r} has had no other target to go back to.",
                hint=f"Name one: conveyor models rollback {name} --alias {alias} --to VERSION "
                "--reason '...'",
            )
        target = last.from_version
    else:
        target = check_version(to_version, what="version to roll back to")
    if target == current:
        raise InvalidValueError(
            f"Alias {alias!r} of model {name!r} already points at version {target}.",
            hint="Pass another version with to_version.",
        )
    move = st.move_alias(
        ws.store,
        name,
        alias,
        target,
        expected_version=current,
        reason=f"rollback: {reason.strip()}",
        actor=actor,
    )
    return AliasMove(
        id=move.id,
        model=name,
        alias=alias,
        from_version=current,
        to_version=target,
        reason=move.reason,
        actor=move.actor,
        moved_at=move.moved_at,
    )


def alias_history(ws: Workspace, name: str, alias: str | None = None) -> list[AliasMove]:
    """Every move of model ``name``'s aliases (or of one), oldest first, with the
    evaluation that allowed each (if one did).

    Raises:
        NotFoundError: no such model.
    """
    return [
        AliasMove(
            id=h.id,
            model=name,
            alias=h.alias,
            from_version=h.from_version,
            to_version=h.to_version,
            reason=h.reason,
            actor=h.actor,
            moved_at=h.moved_at,
            evaluation_id=h.evaluation_id,
        )
        for h in st.alias_history(ws.store, name, alias)
    ]
