"""Subprocess used by the concurrency and crash tests: register one model and print it as JSON.

Usage: python worker_register.py MODEL_PATH MODEL_NAME [GO_FILE]
When GO_FILE is given, create GO_FILE.ready.<pid>, then wait (bounded) until GO_FILE exists,
so that many workers start registering together.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    from jupyter_mldeploy import Model

    model_path, name = sys.argv[1], sys.argv[2]
    if len(sys.argv) > 3:
        go = Path(sys.argv[3])
        Path(f"{go}.ready.{os.getpid()}").touch()
        deadline = time.monotonic() + 120
        while not go.exists():
            if time.monotonic() > deadline:
                print("timed out waiting for the go file", file=sys.stderr)
                return 3
            time.sleep(0.01)
    model = Model.register(model_path, name, tags={"source": model_path})
    print(json.dumps(model.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
