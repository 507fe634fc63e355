"""Deployment targets: the Docker build context writer and the Docker engine wrapper.

Nothing heavy is imported here: ``deploy._context`` writes a self-contained
Docker build context (Dockerfile, wheelhouse, runtime wheel, models, source)
and ``deploy.docker`` drives the Docker engine through the docker SDK, which it
imports only when used.
"""
