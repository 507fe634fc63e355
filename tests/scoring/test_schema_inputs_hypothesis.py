"""Property test: no JSON body makes a schema script's handle() answer 5xx (run() itself does not fail)."""

from __future__ import annotations

import json

import pytest
from entry_helpers import make_request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEYS = ["age", "income", "city", "rows", "scale", "data", "x"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=3), inner,
                                                                 max_size=4),
    max_leaves=20,
)


@pytest.fixture
def schema_scripts(load_script):
    return {name: load_script(name) for name in ["schema_numpy", "schema_pandas", "schema_standard"]}


def test_schema_scripts_answer_any_json_body_without_5xx(schema_scripts):
    seen: dict[int, int] = {}

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(
        name=st.sampled_from(sorted(schema_scripts)),
        key=st.sampled_from(["data", "payload", "label", "threshold"]),
        value=json_values,
        label=json_values,
    )
    def check(name: str, key: str, value: object, label: object) -> None:
        body = {key: value, "label": label} if name == "schema_standard" else {key: value}
        try:
            raw = json.dumps(body).encode()
        except ValueError:
            return
        resp = schema_scripts[name].handle(make_request(body=raw))
        seen[resp.status] = seen.get(resp.status, 0) + 1
        assert resp.status < 500, (name, raw[:200], resp.body)
        if resp.status >= 400:
            error = json.loads(resp.body)["error"]
            assert error["code"] in {"SchemaValidation", "InvalidJSON"} and error["message"]

    check()
    assert any(400 <= status < 500 for status in seen)  # the generator did reach the error paths
