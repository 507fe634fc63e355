"""Docker images: the engine wrapper (the only user of the docker SDK), build contexts, the image pipeline.

Nothing is imported here, so ``import jupyter_mldeploy.images`` stays light: the
docker SDK loads on the first engine call.
"""
