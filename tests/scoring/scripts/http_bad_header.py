"""@rawhttp script whose answer carries a header value HTTP cannot encode."""

from azureml.contrib.services.aml_request import rawhttp
from azureml.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request):
    if request.args.get("ok"):
        return AMLResponse("fine", 200, {"X-Note": "plain"})
    return AMLResponse("hello", 200, {"X-Note": "café ✓"})
