"""A @rawhttp entry script as written for azmlinfsrv: GET and POST, files, headers, status codes, content types."""

import json

from azureml_inference_server_http.api.aml_request import AMLRequest, rawhttp
from azureml_inference_server_http.api.aml_response import AMLResponse

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(32))


def init():
    pass


@rawhttp
def run(request: AMLRequest):
    kind = request.args.get("kind", "")
    if request.method == "GET":
        if kind == "status":
            return AMLResponse("custom status " + request.args["code"], int(request.args["code"]))
        if kind == "dict":
            return {"method": "GET", "args": request.args.to_dict(), "path": request.path}
        return AMLResponse(json.dumps({"method": "GET", "args": request.args.to_dict(flat=False)}), 200,
                           json_str=True)
    if request.method != "POST":
        return AMLResponse(f"{request.method} is not allowed", 405)
    if kind == "files":
        seen = {}
        for name in request.files:
            for upload in request.files.getlist(name):
                body = upload.read()
                seen.setdefault(name, []).append({"filename": upload.filename, "size": len(body),
                                                  "content_type": upload.content_type})
        return AMLResponse({"files": seen, "form": request.form.to_dict()}, 200, json_str=True)
    if kind == "headers":
        return AMLResponse({"x-custom": request.headers.get("X-Custom"), "content-type": request.content_type,
                            "mimetype": request.mimetype, "pairs": sorted(name.lower() for name, _ in request.headers
                                                                          if name.lower().startswith("x-"))},
                           200, json_str=True)
    if kind == "echo-headers":
        response = AMLResponse("ok", 200, {"X-Answer": "42", "Cache-Control": "no-store"})
        return response
    if kind == "csv":
        response = AMLResponse("a,b\n1,2\n", 200)
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        return response
    if kind == "png":
        return AMLResponse(PNG, 200, {"Content-Type": "image/png"})
    if kind == "created":
        response = AMLResponse(json.dumps({"id": 7}), 201, json_str=True)
        response.headers["Location"] = "/things/7"
        return response
    if kind == "teapot":
        response = AMLResponse("short and stout", 200)
        response.status_code = 418
        return response
    if kind == "raise":
        raise RuntimeError("run() failed on purpose")
    if kind == "json":
        return AMLResponse({"got": request.get_json()}, 200, json_str=True)
    if kind == "json-silent":
        return AMLResponse({"got": request.get_json(silent=True)}, 200, json_str=True)
    if kind == "text":
        return AMLResponse(request.get_data(as_text=True).upper(), 200)
    return {"length": len(request.get_data()), "type": request.content_type}
