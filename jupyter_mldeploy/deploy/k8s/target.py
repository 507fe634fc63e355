"""The Kubernetes target (``KubernetesWebservice``): the scoring image on any cluster, autoscaled, through the official client.

The phases are the shared pipeline's (``deploy/pipeline.py``); this module holds what is
the cluster's own: the package image built (the same layered image as Docker's, with the
code inside) and pushed to ``image_repository`` (the Deployment names it by digest), the
objects of :mod:`.manifests` applied with server-side apply, the rollout followed pod by
pod (scheduled, image pulled, ``init()`` done, ready; old pods gone) with a failing pod's
cause raised at once, and the service reached through its NodePort, load balancer or a
port-forward (:mod:`.exposure`).

``update`` rolls out a new image one pod at a time (never fewer ready pods than wanted);
``reload`` restarts every pod the same way; a rollout that fails is rolled back, so the
previous version keeps serving. Deployments carry labels and annotations that let
``Webservice.list()`` and ``Webservice(name)`` find them again from another machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._config import mldeploy_home
from ...errors import (
    DeploymentError,
    InvalidArgumentError,
    KubernetesError,
    KubernetesUnavailableError,
    MLDeployError,
)
from ...images import engine as docker_engine
from ...images.context import model_dir_for
from ...images.dockerfile import CONTAINER_PORT
from ...registry.layout import LaidOutModels
from ..progress import DeploymentProgress
from ..records import ServiceRecord, now_iso
from ..server_options import pick_server_options, takes_server_options
from ..service import Webservice, WebserviceState
from ..service_image import build_service_image, image_environment, image_tag
from . import cluster as k8s_cluster
from .captured import pod_records
from .config import (
    KubernetesDeploymentConfiguration,
    check_kubernetes_name,
    default_image_repository,
)
from .exposure import close_forward, forward_for, service_address
from .logs import follow_pods, merged_logs
from .manifests import (
    FIELD_MANAGER,
    LABEL_MANAGED_BY,
    ManifestInputs,
    keys_secret_name,
    render_manifests,
    selector_labels,
    to_yaml,
)
from .pods import RolloutStatus, current_hash, pod_problem, rollout_status
from .status import ScaleStatus, record_from_deployment, scale_status

__all__ = ["KubernetesWebservice", "ScaleStatus"]

#: Seconds between two looks at the cluster while a rollout is followed.
OBSERVE_S = 0.5
#: Seconds a LoadBalancer may take to get its address.
LOAD_BALANCER_WAIT_S = 300.0
#: Seconds ``Webservice.list()`` waits for the cluster's answer.
DISCOVER_TIMEOUT_S = 5.0
#: A file in MLDEPLOY_HOME saying this home deployed to Kubernetes (so list() asks the cluster).
USED_MARKER = "kubernetes-used"
#: ``1``: list() always asks the cluster (a home that never deployed there); ``0``: never.
LIST_VARIABLE = "MLDEPLOY_KUBERNETES_LIST"
#: The objects a service may own, for delete (KServe's only where it was used).
_KINDS = (
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
)


class KubernetesWebservice(Webservice):
    """A scoring service on a Kubernetes cluster (what Azure ML v1's ``AksWebservice`` was, on any cluster).

    Examples
    --------
    >>> config = KubernetesWebservice.deploy_configuration(                          # doctest: +SKIP
    ...     autoscale_max_replicas=4, image_repository="127.0.0.1:5000/models")
    >>> service = Model.deploy("ridge", [model], inference_config, config)          # doctest: +SKIP
    >>> service.wait_for_deployment(show_output=True)                               # doctest: +SKIP
    >>> service.scale_status().line()                                                # doctest: +SKIP
    'replicas 1/1 ready, autoscaler 1-4 replicas, CPU 3% (target 70%)'
    """

    compute_type = "kubernetes"
    configuration_class = KubernetesDeploymentConfiguration
    builds_images = True
    copies_source = False
    bakes_source = True
    _observed: _Observation | None = None  # the last look at the cluster (per object once set)

    @classmethod
    @takes_server_options
    def deploy_configuration(  # type: ignore[override]
        cls,
        *,
        autoscale_enabled: bool | None = None,
        autoscale_min_replicas: int = 1,
        autoscale_max_replicas: int = 10,
        autoscale_refresh_seconds: int = 1,
        autoscale_target_utilization: int = 70,
        autoscale_scale_down_seconds: int = 300,
        num_replicas: int | None = None,
        cpu_cores: float = 0.1,
        memory_gb: float = 0.5,
        cpu_cores_limit: float | None = None,
        memory_gb_limit: float | None = None,
        gpu_cores: int | None = None,
        auth_enabled: bool = True,
        scoring_timeout_ms: int = 60_000,
        replica_max_concurrent_requests: int = 1,
        period_seconds: int = 10,
        initial_delay_seconds: int = 310,
        timeout_seconds: int = 2,
        failure_threshold: int = 3,
        success_threshold: int = 1,
        startup_timeout_seconds: int = 600,
        namespace: str | None = None,
        image_pull_secrets: list[str] | None = None,
        node_selector: dict[str, str] | None = None,
        service_type: str = "ClusterIP",
        node_port: int | None = None,
        node_address: str | None = None,
        image: str | None = None,
        image_repository: str | None = None,
        context: str | None = None,
        kserve: bool = False,
        port: int | None = None,
        debug: bool = False,
        environment_variables: dict[str, str] | None = None,
        **server_options: Any,
    ) -> KubernetesDeploymentConfiguration:
        """Settings for a Kubernetes deployment: AKS v1's knobs with v1's defaults (``docs/kubernetes.md`` maps each).

        Every bad value raises :class:`~jupyter_mldeploy.errors.InvalidArgumentError` here,
        before anything reaches a cluster. ``image_repository`` is where the service image is
        pushed (default ``$MLDEPLOY_IMAGE_REPOSITORY``); ``image`` deploys a given image instead.
        The server options (``collect_model_data``, ``tracing``, ``otel_endpoint``, ``batch``, ...)
        are :class:`~jupyter_mldeploy.deploy.server_options.ServerOptions`': capture goes to a
        volume in each pod (``service.get_captured(n)`` reads every ready pod's), and
        ``otel_endpoint`` names the collector as the pods reach it.

        Examples
        --------
        >>> KubernetesWebservice.deploy_configuration(autoscale_max_replicas=4).autoscale_min_replicas
        1
        """
        return KubernetesDeploymentConfiguration(
            port=port, auth_enabled=auth_enabled, timeout_ms=scoring_timeout_ms, debug=debug,
            environment_variables=dict(environment_variables or {}),
            autoscale_enabled=autoscale_enabled, autoscale_min_replicas=autoscale_min_replicas,
            autoscale_max_replicas=autoscale_max_replicas, autoscale_refresh_seconds=autoscale_refresh_seconds,
            autoscale_target_utilization=autoscale_target_utilization,
            autoscale_scale_down_seconds=autoscale_scale_down_seconds, num_replicas=num_replicas,
            cpu_cores=cpu_cores, memory_gb=memory_gb, cpu_cores_limit=cpu_cores_limit, memory_gb_limit=memory_gb_limit,
            gpu_cores=gpu_cores, replica_max_concurrent_requests=replica_max_concurrent_requests,
            period_seconds=period_seconds, initial_delay_seconds=initial_delay_seconds,
            timeout_seconds=timeout_seconds, failure_threshold=failure_threshold, success_threshold=success_threshold,
            startup_timeout_seconds=startup_timeout_seconds, namespace=namespace,
            image_pull_secrets=list(image_pull_secrets or []), node_selector=dict(node_selector or {}),
            service_type=service_type, node_port=node_port, node_address=node_address, image=image,
            image_repository=image_repository, context=context, kserve=kserve,
            **pick_server_options(server_options, "KubernetesWebservice.deploy_configuration"),
        )

    @classmethod
    def _deploy(cls, name: str, models: Any, inference_config: Any, config: Any, note: str = "") -> Webservice:
        """Check the name and reach the cluster first, so either failure is raised here, before anything is made."""
        check_kubernetes_name(name)
        k8s_cluster.connect(getattr(config, "context", None))
        return super()._deploy(name, models, inference_config, config, note)

    # --- settings and connection -------------------------------------------------------------------

    @property
    def config(self) -> KubernetesDeploymentConfiguration:
        """The service's configuration."""
        return KubernetesDeploymentConfiguration.from_dict(self._record.config)

    @property
    def namespace(self) -> str:
        """The namespace the service's objects are in."""
        return str(self._record.target.get("namespace") or self.config.namespace or "default")

    def _cluster(self) -> k8s_cluster.Cluster:
        return k8s_cluster.connect(self.config.context)

    # --- pipeline hooks (deploy/pipeline.py) -------------------------------------------------------

    def _target_model_dir(self, laid_out: LaidOutModels) -> str:
        check_kubernetes_name(self.name)
        return model_dir_for([(m["name"], str(m["version"])) for m in laid_out.entries])

    def _target_environment(self, progress: DeploymentProgress, env: Any, inference_config: Any) -> tuple[str, bool]:
        config = self.config
        cluster = self._cluster()  # no cluster: say so before building anything
        self._record.target["namespace"] = config.namespace or cluster.namespace
        if config.image:
            return f"given image {config.image}: its environment is the image's", False
        if not (config.image_repository or default_image_repository()):
            raise InvalidArgumentError(
                "the cluster pulls the service image from a registry: pass image_repository='REGISTRY/PATH' "
                "(for example '127.0.0.1:5000/models' for a local registry, see docs/kubernetes.md), set "
                "MLDEPLOY_IMAGE_REPOSITORY, or pass image=... to deploy an image you pushed yourself."
            )
        return image_environment(self._record, progress, env, inference_config)

    def _target_needs_build(self) -> bool:
        return not self._record.image and not self.config.image

    def _target_build(self, progress: DeploymentProgress) -> str:
        record, config = self._record, self.config
        if config.image:
            record.image = config.image
            return f"given image {config.image} (not built)"
        engine = docker_engine.shared_engine()
        tag = image_tag(record.name)
        built = build_service_image(
            record, progress, tag, Path(record.source_dir), labels={"mldeploy.service": record.name}, engine=engine,
        )
        repository = f"{(config.image_repository or default_image_repository() or '').rstrip('/')}/{record.name}"
        progress.log(f"pushing {tag} to {repository}")
        pushed = engine.push_image(tag, repository, built.image_id.split(":")[-1][:12], on_log=progress.log_text)
        record.image = pushed.by_digest
        layer = "from the cache" if built.env_layer_cached else "built"
        return f"{pushed.by_digest} in {built.seconds:.1f}s (environment layer {layer}), pushed"

    def _target_start(self, port: int | None) -> str:
        record = self._record
        cluster = self._cluster()
        namespace = self.namespace
        if cluster.ensure_namespace(namespace):
            self._log(f"created namespace {namespace}")
        previous = record.target.get("applied_image")
        objects = render_manifests(self._inputs(restarted_at=now_iso()))
        for obj in objects:
            cluster.apply(obj)
        self._prune(cluster, objects)
        record.target.update({"previous_image": previous, "applied_image": record.image,
                              "context": cluster.context})
        (mldeploy_home() / USED_MARKER).touch()  # from now on list() asks the cluster too
        self._observed = None
        kinds = ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
        where = self._expose(cluster, port)
        return f"applied {kinds} in namespace {namespace} (field manager {FIELD_MANAGER}); {where}"

    def _target_exited(self) -> str | None:
        """Raise at once with the cause when a pod of the new revision cannot become ready (rolling back an update)."""
        seen = self._observe()
        if seen is None:
            return f"its Deployment {self.name} is gone from namespace {self.namespace}"
        for pod in seen.pods:
            name = str(pod["metadata"]["name"])
            if name not in seen.status.pods:
                continue
            problem = pod_problem(pod, self._log_reader(name), entry_script=self._record.entry_script)
            if problem:
                rolled = self._roll_back()
                raise DeploymentError(problem + (f"\n{rolled}" if rolled else ""), logs=self._target_logs(200))
        return None

    def _target_settled(self) -> bool:
        seen = self._observe()
        return seen is not None and seen.status.done

    # --- observing the rollout -----------------------------------------------------------------------

    def _observe(self) -> _Observation | None:
        """The Deployment, its pods and the rollout's progress (looked at most every ``OBSERVE_S``), logging each step."""
        last = getattr(self, "_observed", None)
        if last is not None and time.monotonic() - last.at < OBSERVE_S:
            return last
        cluster, namespace = self._cluster(), self.namespace
        deployment = cluster.get("apps/v1", "Deployment", self.name, namespace)
        if deployment is None:
            return None
        selector = selector_labels(self.name)
        replica_sets = cluster.list_objects("apps/v1", "ReplicaSet", namespace, selector)
        pods = cluster.pods(namespace, selector)
        status = rollout_status(deployment, pods, current_hash(replica_sets, deployment))
        seen = _Observation(time.monotonic(), deployment, pods, status)
        if last is None or last.status.line() != status.line():
            self._log(status.line())
        self._observed = seen
        return seen

    def _log_reader(self, pod: str) -> Callable[[bool], str]:
        """``read(previous)``: pod ``pod``'s last log lines (of its container's previous run with ``previous``)."""
        def read(previous: bool) -> str:
            return self._cluster().pod_logs(self.namespace, pod, tail=200, previous=previous)

        return read

    def _roll_back(self) -> str:
        """Put the previous image back after a failed update (the old pods kept serving); say so."""
        record = self._record
        previous = record.target.get("previous_image")
        if not previous or previous == record.image:
            return ""
        failed, record.image = record.image, previous
        record.target["applied_image"] = previous
        try:
            for obj in render_manifests(self._inputs()):
                if obj["kind"] == "Deployment":
                    self._cluster().apply(obj)
        except MLDeployError as err:
            return f"Rolling back to {previous} failed too: {err}"
        return f"Rolled back to the previous image {previous} (it keeps serving); {failed} is not deployed."

    # --- helpers ---------------------------------------------------------------------------------

    def _log(self, line: str) -> None:
        progress = self.progress
        if progress is not None:
            progress.log(line)

    def _inputs(self, restarted_at: str | None = None) -> ManifestInputs:
        record = self._record
        return ManifestInputs(
            name=check_kubernetes_name(record.name),
            namespace=self.namespace,
            image=str(record.image or self.config.image or ""),
            config=self.config,
            entry_script=record.entry_script,
            model_dir=record.model_dir or model_dir_for([]),
            models=tuple(m["id"] for m in record.models),
            env_hash=str((record.environment or {}).get("spec_hash") or ""),
            auth_keys=tuple(record.auth_keys),
            restarted_at=restarted_at or record.target.get("restarted_at"),
        )

    def _prune(self, cluster: k8s_cluster.Cluster, applied: list[dict[str, Any]]) -> None:
        """Delete what an earlier configuration made and this one does not (an autoscaler, the keys' Secret)."""
        kinds = {o["kind"] for o in applied}
        if "HorizontalPodAutoscaler" not in kinds:
            cluster.delete("autoscaling/v2", "HorizontalPodAutoscaler", self.name, self.namespace)
        if "Secret" not in kinds:
            cluster.delete("v1", "Secret", keys_secret_name(self.name), self.namespace)

    def _expose(self, cluster: k8s_cluster.Cluster, port: int | None) -> str:
        """Find (or make) the address the service answers at from here; record it; describe it."""
        record, config = self._record, self.config
        deadline = time.monotonic() + LOAD_BALANCER_WAIT_S
        while True:
            service = cluster.get("v1", "Service", self.name, self.namespace) or {}
            address = service_address(cluster, service, config.node_address)
            if address is not None or config.service_type == "ClusterIP":
                break
            if time.monotonic() >= deadline:
                raise DeploymentError(
                    f"the LoadBalancer Service {self.name} got no address in {LOAD_BALANCER_WAIT_S:g}s; this cluster "
                    "may have no load balancer: deploy with service_type='NodePort' or 'ClusterIP' (a port-forward)."
                )
            time.sleep(2.0)
        if address is None:
            forward = forward_for(cluster, self.namespace, self.name, CONTAINER_PORT, port or record.port)
            record.target["address"] = None
            record.port = forward.port
            return f"reached through a port-forward on 127.0.0.1:{forward.port}"
        record.target["address"] = address[0]
        record.port = address[1]
        return f"{config.service_type} at {address[0]}:{address[1]}"

    @property
    def _base_url(self) -> str | None:
        record = self._record
        host = record.target.get("address")
        if host:
            return f"http://{host}:{record.port}" if record.port else None
        if not record.image:
            return None
        try:
            forward = forward_for(self._cluster(), self.namespace, self.name, CONTAINER_PORT, record.port)
        except MLDeployError:
            return None
        return f"http://127.0.0.1:{forward.port}"

    @property
    def port(self) -> int | None:
        """The port of :attr:`scoring_uri` (the NodePort, 80 on a load balancer, or the port-forward's)."""
        base = self._base_url
        return int(base.rsplit(":", 1)[1]) if base else None

    # --- Webservice hooks ------------------------------------------------------------------------

    def _target_state(self) -> str:
        try:
            seen = self._observe()
        except MLDeployError:
            return WebserviceState.UNHEALTHY
        if seen is None:
            return WebserviceState.FAILED if self._record.image or self._record.error else WebserviceState.TRANSITIONING
        if seen.status.ready == 0:
            failing = any(pod_problem(p, lambda _prev: "", entry_script=self._record.entry_script) for p in seen.pods)
            return WebserviceState.FAILED if failing else WebserviceState.TRANSITIONING
        return self._ready_state()

    def _target_logs(self, num_lines: int) -> str:
        try:
            cluster = self._cluster()
            pods = [p["metadata"]["name"] for p in cluster.pods(self.namespace, selector_labels(self.name))]
            return merged_logs(cluster, self.namespace, pods, num_lines)
        except MLDeployError as err:
            return f"(no logs: {err})"

    def _target_records(self, file_name: str, n: int) -> list[dict[str, Any]]:
        """Each ready pod's records of ``file_name`` (its data volume), merged by time (see :mod:`.captured`)."""
        return pod_records(self._cluster(), self.namespace, self.name, file_name, n)

    def _target_follow(self, poll_s: float) -> Iterator[str]:
        yield from follow_pods(self._cluster(), self.namespace, self.name, max(poll_s, 1.0), lambda: self._deleted)

    def _target_delete(self, delete_image: bool) -> None:
        try:
            cluster = self._cluster()
        except KubernetesError:
            if self._record.image:
                raise  # objects may still run: say how to reach the cluster
            return
        for api_version, kind in _KINDS:
            cluster.delete(api_version, kind, self.name, self.namespace)
        cluster.delete("v1", "Secret", keys_secret_name(self.name), self.namespace)
        if self.config.kserve:
            cluster.delete("serving.kserve.io/v1beta1", "InferenceService", self.name, self.namespace)
        close_forward(cluster, self.namespace, self.name)
        if delete_image:
            try:
                docker_engine.shared_engine().remove_image(image_tag(self.name))
            except MLDeployError:
                pass  # the cluster's copy is what mattered; a local engine may be away

    # --- what only this target has ----------------------------------------------------------------

    def scale_status(self) -> ScaleStatus:
        """Replicas (desired / ready / updated) and, with autoscaling, the autoscaler's current and target CPU utilisation."""
        return scale_status(self._cluster(), self.name, self.namespace)

    def to_yaml(self, include_keys: bool = False) -> str:
        """The service's objects as they are applied, as YAML for review or GitOps (the keys' Secret only with ``include_keys``)."""
        objects = render_manifests(self._inputs(), include_keys=include_keys)
        note = "" if include_keys or not self._record.auth_keys else (
            f"\nThe Secret {keys_secret_name(self.name)} with the auth keys is left out: create it with\n"
            f"  kubectl -n {self.namespace} create secret generic {keys_secret_name(self.name)} --from-file=auth-keys=KEYS_FILE\n"
            "(one key per line), or call to_yaml(include_keys=True)."
        )
        return to_yaml(objects, f"Service {self.name}: written by jupyter-mldeploy (kubectl apply -f FILE).{note}")

    @classmethod
    def _discover(cls, name: str | None = None) -> list[ServiceRecord]:
        """Services found from their Deployments' labels in every namespace the user may list; none if no cluster answers.

        Asked only once this home deployed to Kubernetes (or with ``MLDEPLOY_KUBERNETES_LIST=1``;
        ``0`` never asks): a kubeconfig left from other work must not slow every ``list()``.
        """
        wanted = os.environ.get(LIST_VARIABLE, "")
        if wanted == "0" or not k8s_cluster.cluster_configured():
            return []
        if wanted != "1" and not (mldeploy_home() / USED_MARKER).exists():
            return []
        selector = {LABEL_MANAGED_BY: FIELD_MANAGER}
        try:
            cluster = k8s_cluster.connect()
            try:
                found = cluster.list_objects("apps/v1", "Deployment", None, selector, timeout_s=DISCOVER_TIMEOUT_S)
            except KubernetesUnavailableError:
                raise
            except KubernetesError:  # no right to list every namespace: the context's own
                found = cluster.list_objects("apps/v1", "Deployment", cluster.namespace, selector,
                                             timeout_s=DISCOVER_TIMEOUT_S)
        except MLDeployError:
            return []
        records = []
        for deployment in found:
            meta = deployment.get("metadata") or {}
            if name is not None and meta.get("name") != name:
                continue
            try:
                records.append(record_from_deployment(deployment, KubernetesWebservice.compute_type))
            except (ValueError, KeyError, TypeError, MLDeployError):
                continue
        return records


@dataclass
class _Observation:
    at: float
    deployment: dict[str, Any]
    pods: list[dict[str, Any]]
    status: RolloutStatus
