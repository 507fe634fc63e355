"""The replica planner: the AKS sizing rule with its numbers, fed by a real load test, and its bad inputs."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from jupyter_mldeploy.client.loadtest import LoadTestResult, load_test
from jupyter_mldeploy.client.server import ScoringServer
from jupyter_mldeploy.deploy.k8s import (
    KubernetesWebservice,
    ReplicaPlan,
    plan_replicas,
    render_manifests,
)
from jupyter_mldeploy.deploy.k8s.manifests import ManifestInputs
from jupyter_mldeploy.errors import InvalidArgumentError

SLOW_SCRIPT = textwrap.dedent(
    """
    import json, time

    def init():
        pass

    def run(raw_data):
        time.sleep(0.05)
        return json.loads(raw_data)["data"]
    """
)


def test_the_aks_documentation_example_needs_286_replicas_and_says_max_is_too_low() -> None:
    # Azure's own example: 20 req/s, 10 s per request, 1 request per replica, 70 % utilisation
    plan = plan_replicas(20, 10)
    assert plan.concurrent_requests == pytest.approx(20 * 10 / 0.7)
    assert plan.needed == 286
    assert plan.replicas == 10 and not plan.fits  # the v1 default max (10) caps it
    text = plan.explain()
    assert "ceil(target_rps * request_seconds / (max_concurrent_requests * target_utilization))" in text
    assert "ceil(20 * 10 / (1 * 0.7))" in text and "ceil(285.7) = 286" in text
    assert "autoscale_max_replicas is 10: raise it to 286" in text
    assert "about 0.7 req/s at most" in text  # 10 replicas * 1 * 0.7 / 10 s
    assert plan.deploy_configuration_kwargs()["autoscale_max_replicas"] == 286


def test_a_plan_within_the_bounds_and_one_below_the_minimum() -> None:
    plan = plan_replicas(20, 0.1)  # 20 * 0.1 / 0.7 = 2.86
    assert (plan.needed, plan.replicas, plan.fits) == (3, 3, True)
    assert "within autoscale_min_replicas 1 .. autoscale_max_replicas 10" in plan.explain()
    small = plan_replicas(1, 0.01, min_replicas=2, max_replicas=5)
    assert (small.needed, small.replicas) == (1, 2)
    assert "autoscale_min_replicas 2 is more than the load needs" in small.explain()
    assert small.deploy_configuration_kwargs()["autoscale_max_replicas"] == 5  # the user's ceiling stays


def test_exact_quotients_do_not_round_up_and_concurrency_divides() -> None:
    assert plan_replicas(7, 0.1).needed == 1  # 0.7 / 0.7 in floating point is 1.0000000000000002
    assert plan_replicas(14, 0.1, target_utilization=70).needed == 2
    assert plan_replicas(20, 10, max_concurrent_requests=4).needed == math.ceil(200 / (4 * 0.7))  # 72
    assert plan_replicas(20, 10, target_utilization=100).needed == 200


def test_the_suggested_settings_make_a_configuration_whose_autoscaler_can_reach_the_plan() -> None:
    plan = plan_replicas(50, 0.2, max_concurrent_requests=2, target_utilization=60, max_replicas=4)
    assert plan.needed == math.ceil(50 * 0.2 / (2 * 0.6)) == 9
    config = KubernetesWebservice.deploy_configuration(**plan.deploy_configuration_kwargs())
    objects = render_manifests(ManifestInputs(name="sized", namespace="default", image="r/sized:1", config=config))
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 9)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    assert config.workers == 2  # two scoring processes per replica
    data = plan.to_dict()
    assert json.loads(json.dumps(data)) == data and data["needed"] == 9 and data["replicas"] == 4


def test_a_real_load_test_feeds_its_measured_latency(tmp_path: Path) -> None:
    script = tmp_path / "slow.py"
    script.write_text(SLOW_SCRIPT)
    server = ScoringServer(script, port=0)
    server.start()
    try:
        server.wait_ready(timeout=60)
        result = load_test(server.url, {"data": [1]}, requests=24, concurrency=2, deadline_s=60)
    finally:
        server.stop()
    assert result.ok == 24
    plan = plan_replicas(100, load_test=result)
    assert plan.request_seconds == result.ok_p50 >= 0.05  # run() sleeps 50 ms
    assert plan.needed == math.ceil(100 * result.ok_p50 / 0.7) >= 8
    assert "measured by a load test: p50 of 24 2xx answers" in plan.explain()
    assert "at concurrency 2" in plan.explain()
    # the JSON of `mldeploy loadtest --json` gives the same plan (to the millisecond's rounding)
    from_json = plan_replicas(100, load_test=json.loads(json.dumps(result.to_dict())), latency="p95")
    assert from_json.request_seconds == pytest.approx(result.ok_p95, abs=1e-6)
    assert plan_replicas(100, load_test=result, latency="mean").request_seconds == result.mean


def _result(latencies: list[float], errors: dict[int, int] | None = None) -> LoadTestResult:
    errors = errors or {}
    return LoadTestResult("http://127.0.0.1:1", len(latencies) + sum(errors.values()), 1,
                          len(latencies) + sum(errors.values()), 1.0, latencies=latencies,
                          errors_by_status=errors, ok_latencies=[] if errors else latencies)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_rps": 0, "request_seconds": 0.1}, "target_rps must be a number above zero"),
        ({"target_rps": float("inf"), "request_seconds": 0.1}, "target_rps must be a number above zero"),
        ({"target_rps": "20", "request_seconds": 0.1}, "target_rps must be a number above zero"),
        ({"target_rps": 20, "request_seconds": -1}, "request_seconds must be a number above zero"),
        ({"target_rps": 20}, "give the seconds one request takes (request_seconds=0.05) or a load test"),
        ({"target_rps": 20, "request_seconds": 0.1, "load_test": _result([0.1])}, "one of the two"),
        ({"target_rps": 20, "request_seconds": 0.1, "target_utilization": 0.7},
         "target_utilization is a percentage, a whole number from 1 to 100"),
        ({"target_rps": 20, "request_seconds": 0.1, "target_utilization": 101}, "from 1 to 100"),
        ({"target_rps": 20, "request_seconds": 0.1, "max_concurrent_requests": 0},
         "max_concurrent_requests must be a whole number from 1 to 64, got 0"),
        ({"target_rps": 20, "request_seconds": 0.1, "min_replicas": 5, "max_replicas": 2},
         "min_replicas=5 is more than max_replicas=2"),
        ({"target_rps": 20, "request_seconds": 0.1, "max_replicas": 0}, "max_replicas must be a whole number"),
        ({"target_rps": 20, "load_test": _result([0.1]), "latency": "p90"}, "latency must be one of p50, p95"),
        ({"target_rps": 20, "load_test": [0.1, 0.2]}, "load_test must be the result of load_test(...)"),
        ({"target_rps": 20, "load_test": _result([], {500: 3})}, "has no successful (2xx) answer"),
        ({"target_rps": 20, "load_test": {"ok": 0, "ok_latency_ms": {"p50": None}}}, "no successful (2xx)"),
    ],
)
def test_bad_inputs_each_get_one_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        plan_replicas(**kwargs)
    assert message in str(caught.value)


def test_the_plan_is_a_small_frozen_record() -> None:
    plan = plan_replicas(20, 0.1)
    assert isinstance(plan, ReplicaPlan) and str(plan) == plan.explain()
    with pytest.raises(AttributeError):
        plan.target_rps = 5  # type: ignore[misc]
    assert plan.capacity_rps(plan.needed) >= 20  # the planned replicas serve the target rate
    assert plan.capacity_rps(plan.needed - 1) < 20  # one fewer would not
