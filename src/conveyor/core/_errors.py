"""The errors conveyor raises.

Every error derives from :class:`ConveyorError` and carries a ``hint`` that says how to fix
the problem, and an ``exit_code`` the CLI exits with after printing it as one line (never a
traceback). Anything else escaping an entry point is a bug (exit 70).

    ConveyorError
    ├── ConfigError(ValueError)               conveyor.toml or CONVEYOR_* is invalid
    ├── ProjectNotFoundError(LookupError)     no conveyor.toml here or above
    ├── InvalidNameError(ValueError)          a name or path escapes its root or has bad characters
    ├── InvalidValueError(ValueError)         an option, parameter or setting has a bad value
    ├── NotFoundError(LookupError)            a run, artifact, model ... does not exist
    ├── NotFittedError(ValueError, AttributeError)  a monitor or estimator used before fit
    ├── AlreadyExistsError                    creating something that exists
    ├── ConflictError                         a state change lost a race
    │   └── StaleAttemptError                 a fenced write from an old attempt
    ├── PipelineDefinitionError(ValueError)   a pipeline is wired wrong (found before it runs)
    ├── StepContextError(RuntimeError)        get_step_context() called outside a running step
    ├── StepFailedError                       a step raised; the user's exception is __cause__
    │   └── StepTimeoutError(TimeoutError)    a step ran past its timeout
    ├── DataSourceError                       a data source is missing, unreadable or failed
    ├── DataValidationError                   data broke a schema rule of severity ``error``
    ├── PromotionRefusedError                 the promotion policy does not allow an alias move
    ├── UntrustedModelError                   a model file or manifest could run code nobody signed
    ├── SignatureMismatchError                what the store signed no longer matches its signature
    ├── UnsafeURLError(ValueError)            an outbound URL's scheme or address is refused (SSRF)
    ├── StoreError                            the metadata store failed
    │   ├── StoreUnavailableError             cannot connect, or gave up after bounded retries
    │   └── StoreVersionError                 the store's schema is newer than this conveyor
    └── ArtifactError                         the artifact store failed
        ├── ChecksumMismatchError             bytes read do not hash to the recorded digest
        ├── ArtifactStoreFullError(OSError)   no space left on the artifact store
        └── UnsafeArchiveError(ValueError)    an archive member escapes, links out, or is a bomb
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AlreadyExistsError",
    "ArtifactError",
    "ArtifactStoreFullError",
    "ChecksumMismatchError",
    "ConfigError",
    "ConflictError",
    "ConveyorError",
    "DataSourceError",
    "DataValidationError",
    "InvalidNameError",
    "InvalidValueError",
    "NotFittedError",
    "NotFoundError",
    "PipelineDefinitionError",
    "ProjectNotFoundError",
    "PromotionRefusedError",
    "SignatureMismatchError",
    "StaleAttemptError",
    "StepContextError",
    "StepFailedError",
    "StepTimeoutError",
    "StoreError",
    "StoreUnavailableError",
    "StoreVersionError",
    "UnsafeArchiveError",
    "UnsafeURLError",
    "UntrustedModelError",
]


class ConveyorError(Exception):
    """Root of every error conveyor raises.

    Args:
        message: What was wrong, the value, and what was expected.
        hint: How to fix it, ideally the exact next command.
        **fields: Structured context (``run_id=``, ``key=``, ``digest=`` ...), kept as attributes.
    """

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.fields = fields
        for name, value in fields.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(ConveyorError, ValueError):
    """conveyor.toml or a ``CONVEYOR_*`` variable is invalid."""


class ProjectNotFoundError(ConveyorError, LookupError):
    """No ``conveyor.toml`` in this folder or any above it."""


class InvalidNameError(ConveyorError, ValueError):
    """A name or path escapes its root or has characters that are not allowed."""


class InvalidValueError(ConveyorError, ValueError):
    """A value has the wrong type or range (``InvalidNameError`` is for names and paths)."""


class NotFoundError(ConveyorError, LookupError):
    """A run, artifact, model ... does not exist."""


class NotFittedError(ConveyorError, ValueError, AttributeError):
    """Something that learns from data (a monitor, an estimate) was used before ``fit``.

    Inherits ``ValueError`` and ``AttributeError`` as scikit-learn's ``NotFittedError`` does,
    so code written for scikit-learn catches it.
    """


class AlreadyExistsError(ConveyorError):
    """Creating something that exists already."""


class ConflictError(ConveyorError):
    """A state change lost a race: someone else moved the thing first. Not for bad values."""


class StaleAttemptError(ConflictError):
    """A write fenced by an attempt number arrived after a newer attempt took over."""


class PipelineDefinitionError(ConveyorError, ValueError):
    """A pipeline is wired wrong; found before it runs."""


class StepContextError(ConveyorError, RuntimeError):
    """``get_step_context()`` was called outside a running step."""


class StepFailedError(ConveyorError):
    """A step raised; the user's exception is ``__cause__``."""


class StepTimeoutError(StepFailedError, TimeoutError):
    """A step ran past its ``timeout``."""


class DataSourceError(ConveyorError):
    """A data source is missing or unreadable, or its query failed; names the source."""


class DataValidationError(ConveyorError):
    """Data broke at least one schema rule of severity ``error``; ``report`` holds them all."""


class PromotionRefusedError(ConveyorError):
    """The promotion policy refused an alias move (no passed evaluation of that version)."""


class UntrustedModelError(ConveyorError):
    """A model file or its manifest was refused before anything in it was loaded: an unsigned
    pickle, untrusted types in a skops file, or a manifest outside the schema."""


class SignatureMismatchError(ConveyorError):
    """A model file or an evaluation the store signed no longer matches its signature."""


class UnsafeURLError(ConveyorError, ValueError):
    """An outbound URL was refused before any connection: its scheme is not allowed, or its
    host is (or resolves to) a loopback, private, link-local, metadata ... address; the
    message names the range and the setting that allowlists it."""


class StoreError(ConveyorError):
    """The metadata store failed."""


class StoreUnavailableError(StoreError):
    """The store could not be reached, or stayed unavailable after retries."""


class StoreVersionError(StoreError):
    """The store's schema is newer than this conveyor."""


class ArtifactError(ConveyorError):
    """The artifact store failed."""


class ChecksumMismatchError(ArtifactError):
    """Bytes read do not hash to the recorded digest."""


class ArtifactStoreFullError(ArtifactError, OSError):
    """No space left on the artifact store."""


class UnsafeArchiveError(ArtifactError, ValueError):
    """An archive member escapes, links out, or is a bomb."""
