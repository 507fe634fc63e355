"""``%deploy_local ... --target kubernetes``: the CLI's Kubernetes flags, checked before anything runs; no cluster here."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError


@pytest.fixture
def no_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config either (tests/conftest.py drops KUBECONFIG)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    (tmp_path / "weights.txt").write_text("3")
    path = tmp_path / "score.py"
    path.write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    return path


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ("--target kubernetes --image-repository 127.0.0.1:5000/m", "`mldeploy k8s render`"),
        ("--target kubernetes --autoscale-min 3 --autoscale-max 2", "autoscale_min_replicas=3 is more than"),
        ("--target kubernetes --service-type Ingress", "argument --service-type: invalid choice"),
        ("--target process --namespace models", "namespace: not a setting of the process target"),
    ],
)
def test_kubernetes_flags_reach_the_target_or_say_what_is_wrong(
    shell: object, no_cluster: None, script: Path, flags: str, message: str
) -> None:
    line = f"kube --model weights.txt --entry-script {script.name} {flags}"
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("deploy_local", line)  # type: ignore[attr-defined]
    assert message in str(caught.value)


def test_the_magic_help_lists_the_kubernetes_flags(shell: object) -> None:
    doc = shell.magics_manager.magics["line"]["deploy_local"].__doc__  # type: ignore[attr-defined]
    for flag in ("--target", "kubernetes", "--image-repository", "--namespace", "--replicas", "--autoscale-max",
                 "--cpu-cores", "--memory-gb", "--service-type", "--node-port"):
        assert flag in doc, flag
