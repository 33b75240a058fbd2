"""The errors conveyor raises.

Every error derives from :class:`ConveyorError` and carries a ``hint`` that says how to fix
the problem. Errors a user can cause (bad input, bad config, a missing name) set
``is_user_error``; entry points print those as one line and exit 1, never a traceback.

    ConveyorError
    ├── ConfigError(ValueError)               conveyor.toml or CONVEYOR_* is invalid
    ├── ProjectNotFoundError(LookupError)     no conveyor.toml here or above
    ├── InvalidNameError(ValueError)          a name or path escapes its root or has bad characters
    ├── InvalidValueError(ValueError)         an argument's value is not one of those allowed
    ├── NotFoundError(LookupError)            a run, artifact, model ... does not exist
    ├── AlreadyExistsError                    creating something that exists
    ├── ConflictError                         a state change lost a race
    │   └── StaleAttemptError                 a fenced write from an old attempt
    ├── PipelineDefinitionError(ValueError)   a pipeline is wired wrong (found before it runs)
    ├── StepFailedError                       a step raised; the user's exception is __cause__
    │   └── StepTimeoutError(TimeoutError)    a step ran past its timeout
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
    "InvalidNameError",
    "InvalidValueError",
    "NotFoundError",
    "PipelineDefinitionError",
    "ProjectNotFoundError",
    "StaleAttemptError",
    "StepFailedError",
    "StepTimeoutError",
    "StoreError",
    "StoreUnavailableError",
    "StoreVersionError",
    "UnsafeArchiveError",
]


class ConveyorError(Exception):
    """Root of every error conveyor raises.

    Args:
        message: What was wrong, the value, and what was expected.
        hint: How to fix it, ideally the exact next command.
        **fields: Structured context (``run_id=``, ``key=``, ``digest=`` ...), kept as attributes.
    """

    is_user_error: ClassVar[bool] = False

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
    is_user_error = True


class ProjectNotFoundError(ConveyorError, LookupError):
    is_user_error = True


class InvalidNameError(ConveyorError, ValueError):
    is_user_error = True


class InvalidValueError(ConveyorError, ValueError):
    is_user_error = True


class NotFoundError(ConveyorError, LookupError):
    is_user_error = True


class AlreadyExistsError(ConveyorError):
    is_user_error = True


class ConflictError(ConveyorError):
    is_user_error = True


class StaleAttemptError(ConflictError):
    """A write fenced by an attempt number arrived after a newer attempt took over."""


class PipelineDefinitionError(ConveyorError, ValueError):
    is_user_error = True


class StepFailedError(ConveyorError):
    is_user_error = True


class StepTimeoutError(StepFailedError, TimeoutError):
    pass


class StoreError(ConveyorError):
    pass


class StoreUnavailableError(StoreError):
    is_user_error = True


class StoreVersionError(StoreError):
    is_user_error = True


class ArtifactError(ConveyorError):
    pass


class ChecksumMismatchError(ArtifactError):
    is_user_error = True


class ArtifactStoreFullError(ArtifactError, OSError):
    is_user_error = True


class UnsafeArchiveError(ArtifactError, ValueError):
    is_user_error = True
