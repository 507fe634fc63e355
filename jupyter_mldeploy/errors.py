"""The one error hierarchy of jupyter-mldeploy.

Every exception the public API raises derives from :class:`MLDeployError`:
catch that one to catch them all (as with ``docker.errors.DockerException``).
Third-party errors are wrapped at the boundary with ``raise ... from err``.

Every message says what was wrong *and* what to do next, in one or two
sentences, so that the CLI, the magics and the widgets can show ``str(err)``
as it is.

Subclasses also derive from the closest built-in exception where that helps
existing code (``ValueError`` for bad arguments, ``LookupError`` for things
that are not found, ``FileNotFoundError`` for missing paths, ``TimeoutError``
for timeouts).

The errors are grouped by area, each group with one base to catch::

    InvalidArgumentError    bad values and names (InvalidNameError, PathEscapeError, EnvironmentSpecError, ...)
    NotFoundError           ModelNotFoundError, EnvironmentNotFoundError, ServiceNotFoundError
    RegistryError           the registry's storage (IntegrityError; the model/environment lookups above)
    EnvironmentBuildError   virtualenv builds and wheel downloads (WheelDownloadError)
    EntryScriptError        loading an entry script and its init() (EntryScriptLoadError, InitError)
    ScoringServerError      a server that did not start or answered an error (ServerStartError, ScoringRequestError)
    DeploymentError         deployments and packages (ServiceNotFoundError, ServiceExistsError, PortInUseError,
                            DeploymentTimeoutError, DockerError: DockerUnavailableError, BaseImageMissingError,
                            ImageBuildError, ImagePushError; KubernetesError: KubernetesUnavailableError)
"""

from __future__ import annotations

__all__ = [
    "BaseImageMissingError",
    "CondaOnlyPackageError",
    "DeploymentError",
    "DeploymentTimeoutError",
    "DockerError",
    "DockerUnavailableError",
    "EntryScriptError",
    "EntryScriptLoadError",
    "EnvironmentBuildError",
    "EnvironmentNotFoundError",
    "EnvironmentSpecError",
    "ImageBuildError",
    "ImagePushError",
    "InitError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidNameError",
    "KubernetesError",
    "KubernetesUnavailableError",
    "MLDeployError",
    "ModelNotFoundError",
    "ModelPathError",
    "NotFoundError",
    "PathEscapeError",
    "PortInUseError",
    "RegistryError",
    "ScoringInputError",
    "ScoringRequestError",
    "ScoringServerError",
    "ServerStartError",
    "ServiceExistsError",
    "ServiceNotFoundError",
    "TargetExistsError",
    "WheelDownloadError",
]


class MLDeployError(Exception):
    """Base of every error jupyter-mldeploy raises: catch this to catch them all."""


# --- arguments and names -------------------------------------------------------------


class InvalidArgumentError(MLDeployError, ValueError):
    """An argument has a value that cannot work; the message names it and the fix."""


class InvalidNameError(InvalidArgumentError):
    """A model, environment or service name breaks the naming rules."""


# --- registry ------------------------------------------------------------------------


class NotFoundError(MLDeployError, LookupError):
    """Something asked for by name (and version) does not exist: a model, an environment, a service.

    Catch this to handle every "not found" alike; each subclass also belongs to its area's group.
    """


class RegistryError(MLDeployError):
    """The registry (``MLDEPLOY_HOME``) cannot be read or written."""


class ModelNotFoundError(NotFoundError, RegistryError):
    """No model with that name, or no such version of it."""


class EnvironmentNotFoundError(NotFoundError, RegistryError):
    """No registered environment with that name, or no such version of it."""


class ModelPathError(MLDeployError, FileNotFoundError):
    """A model path is missing, empty or not a file or folder."""


class PathEscapeError(InvalidArgumentError):
    """A path (child path, archive member, symlink) would escape its folder."""


class TargetExistsError(MLDeployError, FileExistsError):
    """A download or save target exists already and ``exist_ok`` was not given."""


class IntegrityError(RegistryError):
    """Stored bytes do not match their recorded sha256: the store was altered or damaged."""


# --- environments --------------------------------------------------------------------


class EnvironmentSpecError(InvalidArgumentError):
    """A requirements file or conda specification cannot be read or understood."""


class CondaOnlyPackageError(EnvironmentSpecError):
    """Conda packages with no PyPI equivalent were asked for; the message names them."""


class EnvironmentBuildError(MLDeployError):
    """Building an environment (virtualenv or image layer) failed; the message has the installer's output."""


class WheelDownloadError(EnvironmentBuildError):
    """Wheels for a target interpreter/platform could not be resolved or downloaded."""


# --- entry scripts and the scoring server ----------------------------------------------


class EntryScriptError(MLDeployError):
    """An entry script is missing, cannot be imported, or lacks a usable ``init``/``run``."""


class InitError(EntryScriptError):
    """The entry script's ``init()`` raised; ``traceback_text`` holds the formatted traceback."""

    def __init__(self, message: str, traceback_text: str = "") -> None:
        super().__init__(message)
        self.traceback_text = traceback_text


class EntryScriptLoadError(EntryScriptError):
    """Importing the entry script failed (syntax error, import error, exception); ``traceback_text`` has the details."""

    def __init__(self, message: str, traceback_text: str = "") -> None:
        super().__init__(message)
        self.traceback_text = traceback_text


class ScoringInputError(InvalidArgumentError):
    """A scoring request body cannot be read the way the script asked (bad JSON, not UTF-8): a 4xx answer.

    ``status`` and ``code`` (an ``ErrorCode`` string) say how the scoring server answers it.
    """

    def __init__(self, message: str, status: int = 400, code: str = "InvalidJSON") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ScoringServerError(MLDeployError):
    """The scoring server could not start or answered in an unexpected way."""


class ServerStartError(ScoringServerError):
    """The scoring server did not become ready; the message has its last log lines."""


class ScoringRequestError(ScoringServerError):
    """A scoring request got an error answer; ``status`` and ``body`` hold the response."""

    def __init__(self, message: str, status: int = 0, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


# --- deployments -----------------------------------------------------------------------


class DeploymentError(MLDeployError):
    """A deployment failed; the message holds the cause (an ``init()`` traceback, the last logs)."""

    def __init__(self, message: str, logs: str = "") -> None:
        super().__init__(message)
        self.logs = logs


class ServiceNotFoundError(NotFoundError, DeploymentError):
    """No deployed web service with that name."""


class ServiceExistsError(DeploymentError):
    """A service with that name exists already; pass ``overwrite=True`` to replace it."""


class PortInUseError(DeploymentError):
    """The requested port is taken; the message names who holds it when it is one of ours."""


class DockerError(DeploymentError):
    """The Docker engine could not do what a deployment or package needed (the group of the three below)."""


class DockerUnavailableError(DockerError):
    """No Docker engine answers; the message says how to start one."""


class BaseImageMissingError(DockerError):
    """The configured base image is not present and cannot be pulled (names ``MLDEPLOY_BASE_IMAGE``)."""


class ImageBuildError(DockerError):
    """A Docker image build failed; the message has the failing step and its output."""


class ImagePushError(DockerError):
    """Pushing an image to a registry failed; the message has the registry's answer and the fix."""


class KubernetesError(DeploymentError):
    """The cluster refused or could not do what a deployment needed; the message has its answer."""


class KubernetesUnavailableError(KubernetesError):
    """No cluster is configured or none answers; the message says how to render the manifests instead."""


class DeploymentTimeoutError(DeploymentError, TimeoutError):
    """A deployment did not become healthy within the allowed time."""
