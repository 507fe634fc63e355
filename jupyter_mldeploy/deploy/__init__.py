"""Deployments: the ``Webservice`` targets and the Docker layer they build on.

Nothing is imported here, so ``import jupyter_mldeploy.deploy`` stays light. For
Docker, ``deploy._context`` writes a self-contained, offline-buildable build
context (Dockerfile, wheelhouse, runtime wheel, models, source) and
``deploy.docker`` drives the engine through the docker SDK, which it imports
only when used.
"""
