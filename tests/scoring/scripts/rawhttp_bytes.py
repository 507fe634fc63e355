"""@rawhttp entry script: echoes the raw bytes of POST bodies, answers GET with what it saw."""

from azureml.contrib.services.aml_request import AMLRequest, rawhttp  # noqa: F401 - the usual import
from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request):
    if request.method == "GET":
        return {
            "method": request.method,
            "args": dict(request.args),
            "full_path": request.full_path,
            "path": request.path,
        }
    if request.method == "POST":
        body = request.get_data(as_text=False)
        content_type = request.headers.get("Content-Type", "application/octet-stream")
        return AMLResponse(body, 200, {"Content-Type": content_type, "X-Echo-Length": str(len(body))})
    return AMLResponse(f"method {request.method} is not supported", 405)
