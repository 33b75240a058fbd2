"""Model URIs, as MLflow writes them: ``models:/name@alias``, ``models:/name/3``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..core import InvalidNameError, InvalidValueError, validate_name

SCHEME = "models:/"
_URI = re.compile(r"(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?")


@dataclass(frozen=True)
class ModelRef:
    """A parsed model reference: a version number, an alias, or neither (the latest).

    Attributes:
        name: The model's name.
        version: A version number, or None.
        alias: An alias, or None.
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def uri(self) -> str:
        """``models:/name/3``, ``models:/name@champion``, or ``models:/name`` (latest)."""
        if self.version is not None:
            return f"{SCHEME}{self.name}/{self.version}"
        if self.alias is not None:
            return f"{SCHEME}{self.name}@{self.alias}"
        return f"{SCHEME}{self.name}"

    def __str__(self) -> str:
        return self.uri


def parse_model_uri(uri: str) -> ModelRef:
    """Parse ``models:/name@alias``, ``models:/name/3``, ``name@alias``, ``name/3``,
    ``name/latest`` or ``name`` (the latest version).

    Raises:
        InvalidValueError: anything else (another scheme, an empty part, a version that is
            not a whole number from 1, a name or alias with characters names may not have).

    Example:
        >>> parse_model_uri("models:/churn@champion")
        ModelRef(name='churn', version=None, alias='champion')
    """
    if not isinstance(uri, str):
        raise InvalidValueError(f"A model URI must be a string. Got {uri!r}.", hint=_HINT)
    text = uri.removeprefix(SCHEME)
    match = _URI.fullmatch(text)
    if match is None or text.startswith("/") or (":" in text.split("/")[0]):
        raise _bad(uri, "")
    name, number, alias = match["name"], match["version"], match["alias"]
    try:
        validate_name(name, what="model name")
        if alias is not None:
            validate_name(alias, what="alias")
    except InvalidNameError as exc:
        raise _bad(uri, f" {exc.message}") from None
    if number is None or number == "latest":
        return ModelRef(name=name, alias=alias)
    if not number.isdigit() or not number.isascii() or int(number) < 1:
        raise _bad(uri, f" The version must be a whole number from 1; got {number!r}.")
    return ModelRef(name=name, version=int(number))


_HINT = "For example: models:/churn@champion, models:/churn/3, churn/3 or churn."


def _bad(uri: str, why: str) -> InvalidValueError:
    return InvalidValueError(
        f"A model URI is 'models:/NAME@ALIAS', 'models:/NAME/VERSION' or 'NAME' (its latest "
        f"version). Got {uri!r}.{why}",
        hint=_HINT,
        uri=uri,
    )
