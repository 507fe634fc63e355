"""Run azmlinfsrv exactly as its ``azmlinfsrv`` command does, bound to 127.0.0.1 instead of 0.0.0.0.

azmlinfsrv always binds all interfaces (its ``DEFAULT_HOST``); the tests keep every server on
loopback, so this launcher sets that one constant and then calls azmlinfsrv's own ``run()``,
which parses the same command line (``--entry_script``, ``--model_dir``, ``--port``, ...).
"""

import sys

from azureml_inference_server_http import amlserver

amlserver.DEFAULT_HOST = "127.0.0.1"
sys.exit(amlserver.run())
