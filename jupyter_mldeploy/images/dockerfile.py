"""The Dockerfile of every image, and the paths and user it sets up inside the image.

Ordered for the layer cache, from what changes least to what changes most::

    stage "env"   FROM base; venv at /opt/mldeploy/venv; COPY wheels/; pip install --no-index
    final stage   FROM base; non-root user (uid 1000); COPY --from=env the venv
                  COPY runtime/ (jupyter-mldeploy wheel) + install_runtime.py
                  COPY --chown=1000:1000 azureml-models/ and src/ (modes kept); ENV AZUREML_*;
                  USER 1000; CMD scoring server

The environment layer depends only on the wheelhouse, so a new model version or a code
change never reinstalls packages, and the wheels stay out of the final image.

:func:`render_dev_dockerfile` is the Docker target's image instead: the base, the user,
an empty venv whose ``mldeploy-env.pth`` adds :data:`ENV_MOUNT` (the host-built
environment, mounted read-only with the models and the code), the healthcheck and the
command. It holds nothing of any environment, so every service on one base image shares it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

#: Root of the app inside the image, as in Azure ML containers.
APP_ROOT = "/var/azureml-app"
#: Where registered models go inside the image (``NAME/VERSION/...``).
MODELS_ROOT = f"{APP_ROOT}/azureml-models"
#: Where the source folder (entry script and its modules) goes inside the image.
SOURCE_ROOT = f"{APP_ROOT}/src"
#: where a service's server writes capture.jsonl and collected.jsonl: the host's service data/ folder, mounted read-write
CONTAINER_DATA = "/var/lib/mldeploy"
#: The virtualenv holding the environment's packages and the scoring runtime.
VENV = "/opt/mldeploy/venv"
#: The port the scoring server listens on inside the container.
CONTAINER_PORT = 5001
#: The non-root user every container runs as.
USER_UID = 1000
USER_NAME = "mldeploy"
#: Where a Docker deployment's host-built environment (``environment/env_tree.py``) is mounted read-only.
ENV_MOUNT = "/opt/mldeploy/env"
#: Where every host-built environment (``$MLDEPLOY_HOME/envtrees``) is mounted read-only: an
#: environment change that only adds packages is swapped into a running container from there.
ENV_TREES_MOUNT = "/opt/mldeploy/envtrees"
#: Where a Docker deployment's models folder is mounted; :data:`MODELS_ROOT` links into it.
MODELS_MOUNT = "/opt/mldeploy/models"
#: The script in ``runtime/`` that unpacks the runtime wheel into the venv (no pip needed).
RUNTIME_INSTALLER = "install_runtime.py"


#: The healthcheck's Python: ``/ready`` answers 200.
_HEALTH = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{CONTAINER_PORT}/ready', timeout=2)"
#: The shell that creates the non-root user (Debian/Ubuntu ``useradd`` or Alpine ``adduser``) unless it exists.
_ADD_USER = f"""if getent passwd {USER_UID} >/dev/null; then :; \\
    elif command -v useradd >/dev/null; then \\
      useradd --uid {USER_UID} --user-group --create-home --no-log-init --shell /bin/sh {USER_NAME}; \\
    else adduser -D -u {USER_UID} {USER_NAME}; fi"""


def render_dockerfile(
    *,
    base_image: str,
    env_hash: str,
    image_env: Mapping[str, str],
    python: str = "python3",
    models: str = "(none)",
    drop_after_install: Sequence[str] = ("pip", "setuptools"),
) -> str:
    """Return the Dockerfile text of a build context (see the module docstring for the order and why).

    ``drop_after_install`` are packages only needed to install (pip, setuptools): they are
    left out of the image (-25 MB) unless the environment asks for them.
    """
    py = python
    pip = f"{VENV}/bin/python -m pip install --no-index --no-cache-dir --disable-pip-version-check"
    health = _HEALTH
    env_lines = " \\\n    ".join(f"{key}={_env_value(value)}" for key, value in image_env.items())
    drop = list(drop_after_install)
    uninstall = f" \\\n && {VENV}/bin/python -m pip uninstall -y -q {' '.join(drop)}" if drop else ""
    return f"""\
# Written by jupyter-mldeploy. Builds offline: `docker build -t NAME .`, then
# `docker run -p 127.0.0.1:6789:{CONTAINER_PORT} NAME` serves http://127.0.0.1:6789/score.
# Environment spec hash: {env_hash}; models: {models}
# Layers go from what changes least to what changes most, so the layer cache
# reuses the environment for new models and new code.

# --- stage 1: the environment (rebuilt only when wheels/ changes) ----------------------
FROM {base_image} AS env
RUN {py} -m venv {VENV}
COPY wheels/ /tmp/wheels/
RUN {pip} --find-links /tmp/wheels -r /tmp/wheels/requirements.txt{uninstall}
LABEL mldeploy.managed="true" mldeploy.stage="env" mldeploy.env-hash="{env_hash}"

# --- stage 2: the service image ---------------------------------------------------------
FROM {base_image}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH={VENV}/bin:$PATH
RUN {_ADD_USER}
COPY --from=env {VENV} {VENV}
# the scoring runtime (jupyter-mldeploy itself, a pure-Python wheel): unpacked into the venv,
# after checking that the environment holds every package it requires
COPY runtime/ /opt/mldeploy/runtime/
RUN {VENV}/bin/python /opt/mldeploy/runtime/{RUNTIME_INSTALLER}
WORKDIR {APP_ROOT}
COPY --chown={USER_UID}:{USER_UID} azureml-models/ {MODELS_ROOT}/
COPY --chown={USER_UID}:{USER_UID} src/ {SOURCE_ROOT}/
ENV {env_lines}
USER {USER_UID}:{USER_UID}
EXPOSE {CONTAINER_PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \\
    CMD ["{VENV}/bin/python", "-c", "{health}"]
CMD ["{VENV}/bin/python", "-m", "jupyter_mldeploy.scoring", "--host", "0.0.0.0", "--port", "{CONTAINER_PORT}"]
"""


def render_dev_dockerfile(*, base_image: str, python: str = "python3") -> str:
    """The Docker target's shared image: base + user + an empty venv that reads the mounted environment."""
    health = _HEALTH
    pth = f"import site; site.addsitedir({ENV_MOUNT!r})"
    return f"""\
# Written by jupyter-mldeploy: the image of Docker deployments. The environment (packages +
# scoring runtime, installed on the host), the models and the code are mounted read-only.
FROM {base_image}
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PATH={VENV}/bin:$PATH
RUN {_ADD_USER} \\
 && {python} -m venv --without-pip {VENV} \\
 && echo "{pth}" > "$({VENV}/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/mldeploy-env.pth" \\
 && mkdir -p {ENV_MOUNT} {MODELS_MOUNT} {SOURCE_ROOT} \\
 && ln -s {MODELS_MOUNT}/azureml-models {MODELS_ROOT}
WORKDIR {APP_ROOT}
ENV AML_APP_ROOT={APP_ROOT} AZUREML_SOURCE_DIRECTORY={SOURCE_ROOT}
USER {USER_UID}:{USER_UID}
EXPOSE {CONTAINER_PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \\
    CMD ["{VENV}/bin/python", "-c", "{health}"]
CMD ["{VENV}/bin/python", "-m", "jupyter_mldeploy.scoring", "--host", "0.0.0.0", "--port", "{CONTAINER_PORT}"]
"""


def _env_value(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'
