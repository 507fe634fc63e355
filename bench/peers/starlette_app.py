"""The ceiling: a bare Starlette app with the same predict, written as a user would.

The endpoint is ``async def`` only to read the body (Starlette has no sync way to);
``predict`` then runs synchronously on the event loop, with no thread hand-off and
no middleware: the cheapest way to serve this model with Starlette. Run with
``uvicorn starlette_app:app --workers N`` (cwd ``bench/peers``) and
``AZUREML_MODEL_DIR`` pointing at the folder holding ``model.joblib``; the
benchmark runs it twice: as is (uvicorn's access log on, ``starlette``) and with
``--no-access-log`` (``starlette-nolog``).
"""

import json
import os

import joblib
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

model = joblib.load(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.joblib"))


def health(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Healthy")


async def score(request: Request) -> JSONResponse:
    body = await request.body()
    data = json.loads(body)["data"]
    return JSONResponse(model.predict(data).tolist())


app = Starlette(routes=[Route("/", health), Route("/score", score, methods=["POST"])])
