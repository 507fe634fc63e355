"""The schemas and raw HTTP notebook (06), executed by nbval: swagger.json, typed 4xx answers, an image upload."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from test_tutorials import run_notebook, NBVAL_TIMEOUT_S, NOTEBOOKS, _cell, _code_cells, _text

TUTORIAL = NOTEBOOKS / "06-schemas-and-raw-http.ipynb"

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_leaked_services")]


def test_the_notebook_uses_schemas_and_rawhttp() -> None:
    nb = nbformat.read(TUTORIAL, as_version=4)
    source = "\n".join(c.source for c in _code_cells(nb))
    for needle in ("@input_schema(", "@output_schema(", "service.swagger_uri", "@rawhttp", "request.files.get(",
                   'request.method == "GET"', "AMLResponse(", "files={\"image\""):
        assert needle in source, needle


@pytest.mark.timeout(NBVAL_TIMEOUT_S + 60)
def test_schemas_tutorial_runs_under_nbval(tmp_path: Path, mldeploy_home: Path) -> None:
    nb = run_notebook(TUTORIAL, tmp_path, mldeploy_home, "schemas tutorial")

    swagger = _text(_cell(nb, "swagger = requests.get(service.swagger_uri"))
    assert "2.0 | input data: array of array of number" in swagger and "'/score'" in swagger, swagger
    errors = _text(_cell(nb, 'for body in (b"not json"')).splitlines()
    assert errors[0].startswith("400 InvalidJSON | "), errors
    assert errors[1].startswith("400 SchemaValidation | Missing parameter 'data'"), errors
    assert errors[2].startswith("422 SchemaValidation | Parameter 'data'"), errors
    assert re.match(r"still serving: \{'digits': \[\d\]\}", errors[3]), errors
    uploads = _text(_cell(nb, "def png_of(index):")).splitlines()
    assert len(uploads) == 2, uploads
    for line, index in zip(uploads, (3, 7)):
        found = re.match(r"200 application/json \{'file': 'digit-(\d)\.png', 'size': \[8, 8\], 'digit': (\d)\} "
                         r"true: (\d)", line)
        assert found and int(found.group(1)) == int(found.group(3)) == index, line
        assert found.group(2) == found.group(3), f"the uploaded image of a {index} was read as {found.group(2)}"

    from jupyter_mldeploy import Webservice

    assert Webservice.list() == []
