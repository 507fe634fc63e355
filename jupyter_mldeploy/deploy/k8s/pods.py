"""Read a rollout from its Deployment and pods: how far it got, and a failing pod's cause in one line.

:func:`rollout_status` counts what users wait for (pods scheduled, image pulled, ``init()``
done, ready, old pods gone); :func:`pod_problem` explains the pod states that never end by
themselves (``CrashLoopBackOff`` with the ``init()`` traceback from the pod's log,
``ImagePullBackOff``, ``Pending`` for want of resources, ``OOMKilled``, a missing Secret),
each in one line with what to do next. Pure functions over the API's plain dicts; the
log comes from a callable so that only failing pods cost a log read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...scoring.logs import last_traceback

__all__ = ["RolloutStatus", "pod_problem", "rollout_status"]

#: Waiting reasons that mean the image cannot be had.
_PULL_FAILURES = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable")
#: Waiting reasons that mean the container cannot even be made.
_CONFIG_FAILURES = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")


@dataclass
class RolloutStatus:
    """Where a rollout stands (counts are of the current revision's pods, except ``old``)."""

    desired: int = 0
    scheduled: int = 0
    pulled: int = 0
    ready: int = 0
    available: int = 0
    old: int = 0
    done: bool = False
    pods: list[str] = field(default_factory=list)

    def line(self) -> str:
        """``replicas 2/3 ready (3 scheduled, 3 pulled); 1 old pod stopping``."""
        text = f"replicas {self.ready}/{self.desired} ready ({self.scheduled} scheduled, {self.pulled} image pulled)"
        if self.old:
            text += f"; {self.old} old pod{'s' if self.old != 1 else ''} still running"
        return text


def _status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("status") or {}


def _container_statuses(pod: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(_status(pod).get("containerStatuses") or [])


def _condition(pod: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in _status(pod).get("conditions") or []:
        if condition.get("type") == kind:
            return condition
    return {}


def pod_ready(pod: Mapping[str, Any]) -> bool:
    """Whether the pod passes its readiness probe (and is not being deleted)."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return _condition(pod, "Ready").get("status") == "True"


def pod_template_hash(pod: Mapping[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get("pod-template-hash") or "")


def current_hash(replica_sets: Sequence[Mapping[str, Any]], deployment: Mapping[str, Any]) -> str:
    """The ``pod-template-hash`` of the Deployment's current revision (its newest ReplicaSet)."""
    revision = str(((deployment.get("metadata") or {}).get("annotations") or {}).get(
        "deployment.kubernetes.io/revision") or "")
    best: tuple[int, str] = (-1, "")
    for rs in replica_sets:
        meta = rs.get("metadata") or {}
        rs_revision = str((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") or "0")
        if revision and rs_revision == revision:
            return str((meta.get("labels") or {}).get("pod-template-hash") or "")
        number = int(rs_revision) if rs_revision.isdigit() else 0
        if number > best[0]:
            best = (number, str((meta.get("labels") or {}).get("pod-template-hash") or ""))
    return best[1]


def rollout_status(deployment: Mapping[str, Any], pods: Sequence[Mapping[str, Any]], template_hash: str) -> RolloutStatus:
    """How far the Deployment's rollout is: ``done`` once every desired pod of the new revision is ready and no old one runs."""
    spec, status = deployment.get("spec") or {}, _status(deployment)
    meta = deployment.get("metadata") or {}
    replicas = spec.get("replicas")
    desired = int(replicas) if replicas is not None else 1
    result = RolloutStatus(desired=desired)
    for pod in pods:
        if (pod.get("metadata") or {}).get("deletionTimestamp") and pod_template_hash(pod) != template_hash:
            result.old += 1
            continue
        if template_hash and pod_template_hash(pod) != template_hash:
            result.old += 1
            continue
        result.pods.append(str((pod.get("metadata") or {}).get("name")))
        if _condition(pod, "PodScheduled").get("status") == "True":
            result.scheduled += 1
        if any(_pulled(cs) for cs in _container_statuses(pod)):
            result.pulled += 1
        if pod_ready(pod):
            result.ready += 1
    result.available = int(status.get("availableReplicas") or 0)
    observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    result.done = (
        observed
        and int(status.get("updatedReplicas") or 0) >= desired
        and int(status.get("replicas") or 0) <= desired
        and result.available >= desired
        and result.ready >= desired
        and result.old == 0
    )
    return result


def _pulled(container_status: Mapping[str, Any]) -> bool:
    state = container_status.get("state") or {}
    if "running" in state or "terminated" in state or container_status.get("imageID"):
        return True
    waiting = state.get("waiting") or {}
    return bool(waiting) and waiting.get("reason") not in (*_PULL_FAILURES, "ContainerCreating", "PodInitializing")


def pod_problem(
    pod: Mapping[str, Any],
    logs: Callable[[bool], str],
    *,
    entry_script: str = "score.py",
) -> str | None:
    """One line (plus a traceback when there is one) saying why ``pod`` will not become ready by itself, else ``None``.

    ``logs(previous)`` returns the pod's log (of the container's previous run when ``previous``).
    """
    name = str((pod.get("metadata") or {}).get("name"))
    scheduled = _condition(pod, "PodScheduled")
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return (
            f"Pending: no node can take pod {name} ({_asks(pod)}); the scheduler says: "
            f"{str(scheduled.get('message') or '').strip()} Lower cpu_cores/memory_gb (or gpu_cores), "
            "change node_selector, or add nodes."
        )
    for cs in _container_statuses(pod):
        state, last = cs.get("state") or {}, cs.get("lastState") or {}
        waiting = state.get("waiting") or {}
        reason = str(waiting.get("reason") or "")
        message = str(waiting.get("message") or "").strip()
        if reason in _PULL_FAILURES:
            return (
                f"{reason}: the cluster cannot pull image {cs.get('image')} for pod {name}"
                + (f" ({message})" if message else "")
                + ". Push it where the nodes pull from (image_repository=...), check its name, or name a "
                "docker-registry Secret with image_pull_secrets=[...] for a private registry."
            )
        if reason in _CONFIG_FAILURES:
            return f"{reason}: pod {name} cannot start its container ({message or 'see kubectl describe pod'})."
        terminated = state.get("terminated") or last.get("terminated") or {}
        if terminated.get("reason") == "OOMKilled":
            return (
                f"OOMKilled: the scoring server in pod {name} used more memory than its limit; raise memory_gb "
                "(or memory_gb_limit) and update the service."
            )
        restarts = int(cs.get("restartCount") or 0)
        if reason == "CrashLoopBackOff" or (terminated and int(terminated.get("exitCode") or 0) != 0) or restarts:
            text = logs(True) or logs(False)
            return _crash_line(name, entry_script, text, reason or "restarting", restarts, terminated)
    if _status(pod).get("phase") == "Running" and not pod_ready(pod):
        text = logs(False)
        if "init()" in text and "Traceback" in text:
            return _init_failure(name, entry_script, text, "running, not ready")
    return None


def _asks(pod: Mapping[str, Any]) -> str:
    asks = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        requests = (container.get("resources") or {}).get("requests") or {}
        asks += [f"{k} {v}" for k, v in requests.items()]
    return "asks " + ", ".join(asks) if asks else "no resources asked"


def _crash_line(name: str, script: str, text: str, reason: str, restarts: int, terminated: Mapping[str, Any]) -> str:
    trace = last_traceback(text)
    if trace:
        return _init_failure(name, script, text, f"{reason}, restarted {restarts} time{'s' if restarts != 1 else ''}")
    code = terminated.get("exitCode")
    tail = "\n".join(text.rstrip().splitlines()[-15:])
    return (
        f"{reason}: the scoring server in pod {name} exited"
        + (f" with code {code}" if code is not None else "")
        + f" (restarted {restarts} times). Last log lines:\n{tail}"
    )


def _init_failure(name: str, script: str, text: str, how: str) -> str:
    trace = last_traceback(text)
    return (
        f"init() of {script} failed in pod {name} ({how}):\n{trace}\n"
        "Fix the script, then call service.update(inference_config=...) (a new image rolls out)."
    )
