"""Turn conda package specs into pip requirements (or say why they cannot be).

Environments are built with pip-compatible tools (uv) from PyPI, so a conda
``environment.yml`` is translated: each conda match spec becomes a PEP 508
requirement. Three tables drive it:

* :data:`RENAMES`: conda names whose PyPI distribution has another name
  (``pytorch`` -> ``torch``, ``py-xgboost`` -> ``xgboost``).
* :data:`SKIP`: packages that need nothing from pip (the interpreter, pip
  itself, C runtime and maths libraries that PyPI wheels bundle).
* :data:`CONDA_ONLY`: packages with no PyPI equivalent (CUDA toolkits, R,
  system programs); asking for them is an error that names them.

Any other name is assumed to be the same on PyPI; when it is not, the build's
resolver error names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from ..errors import EnvironmentSpecError

#: conda name -> PyPI name, where they differ.
RENAMES: dict[str, str] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "python-graphviz": "graphviz",
    "matplotlib-base": "matplotlib",
    "tensorflow-gpu": "tensorflow",
    "tensorflow-base": "tensorflow",
    "tensorflow-cpu": "tensorflow-cpu",
    "keras-gpu": "keras",
    "pytables": "tables",
    "msgpack-python": "msgpack",
    "py-opencv": "opencv-python-headless",
    "opencv": "opencv-python-headless",
    "pyqt": "pyqt5",
    "ruamel_yaml": "ruamel.yaml",
    "dask-core": "dask",
    "numpy-base": "numpy",
    "faiss": "faiss-cpu",
    "faiss-cpu": "faiss-cpu",
    "lightgbm": "lightgbm",
    "py-lightgbm": "lightgbm",
    "catboost": "catboost",
    "pyarrow-core": "pyarrow",
    "typing_extensions": "typing-extensions",
    "importlib_metadata": "importlib-metadata",
    "prompt_toolkit": "prompt-toolkit",
    "tensorboard-data-server": "tensorboard-data-server",
}

#: Packages that need nothing from pip: name -> why (shown as a note).
SKIP: dict[str, str] = {
    "python": "the interpreter is chosen from the spec's python version",
    "pip": "environments are built with uv; pip packages go in the 'pip:' section",
    "conda": "conda itself is not needed in a pip-built environment",
    "python_abi": "conda metadata package",
    "cpuonly": "PyPI torch wheels for CPU need no selector package",
    "nomkl": "PyPI numpy/scipy wheels bundle OpenBLAS",
    "mkl": "PyPI numpy/scipy wheels bundle OpenBLAS instead of MKL",
    "mkl-service": "PyPI numpy/scipy wheels bundle OpenBLAS instead of MKL",
    "mkl_fft": "PyPI numpy/scipy wheels bundle OpenBLAS instead of MKL",
    "mkl_random": "PyPI numpy/scipy wheels bundle OpenBLAS instead of MKL",
    "mkl-include": "PyPI numpy/scipy wheels bundle OpenBLAS instead of MKL",
    "intel-openmp": "PyPI wheels bundle their OpenMP runtime",
    "blas": "PyPI numpy/scipy wheels bundle OpenBLAS",
    "libblas": "PyPI numpy/scipy wheels bundle OpenBLAS",
    "libcblas": "PyPI numpy/scipy wheels bundle OpenBLAS",
    "liblapack": "PyPI numpy/scipy wheels bundle OpenBLAS",
    "libopenblas": "PyPI numpy/scipy wheels bundle OpenBLAS",
    "openblas": "PyPI numpy/scipy wheels bundle OpenBLAS",
    "libxgboost": "the xgboost wheel bundles it",
    "_py-xgboost-mutex": "conda metadata package",
    "liblightgbm": "the lightgbm wheel bundles it",
    "libopencv": "the opencv wheel bundles it",
    "libarrow": "the pyarrow wheel bundles it",
    "arrow-cpp": "the pyarrow wheel bundles it",
    "libprotobuf": "the protobuf wheel bundles what it needs",
    "_libgcc_mutex": "C runtime library (manylinux wheels rely on the system's)",
    "_openmp_mutex": "C runtime library (manylinux wheels rely on the system's)",
    "libgcc": "C runtime library (manylinux wheels rely on the system's)",
    "libgcc-ng": "C runtime library (manylinux wheels rely on the system's)",
    "libstdcxx": "C++ runtime library (manylinux wheels rely on the system's)",
    "libstdcxx-ng": "C++ runtime library (manylinux wheels rely on the system's)",
    "libgfortran-ng": "Fortran runtime library (wheels bundle it)",
    "libgfortran5": "Fortran runtime library (wheels bundle it)",
    "libgomp": "OpenMP runtime library (wheels bundle it)",
    "llvm-openmp": "OpenMP runtime library (wheels bundle it)",
    "ld_impl_linux-64": "linker library of the conda toolchain",
    "libffi": "system library (the interpreter provides it)",
    "zlib": "system library (the interpreter provides it)",
    "libzlib": "system library (the interpreter provides it)",
    "xz": "system library (the interpreter provides it)",
    "bzip2": "system library (the interpreter provides it)",
    "sqlite": "system library (the interpreter provides it)",
    "libsqlite": "system library (the interpreter provides it)",
    "tk": "system library (the interpreter provides it)",
    "readline": "system library (the interpreter provides it)",
    "ncurses": "system library (the interpreter provides it)",
    "openssl": "system library (the interpreter provides it)",
    "ca-certificates": "system certificates (use the 'certifi' pip package if needed)",
    "tzdata": "system time zone data (use the 'tzdata' pip package if needed)",
    "libuuid": "system library (the interpreter provides it)",
    "libnsl": "system library (the interpreter provides it)",
    "libxcrypt": "system library (the interpreter provides it)",
}

#: Packages with no PyPI equivalent: name -> what to do instead.
CONDA_ONLY: dict[str, str] = {
    "cudatoolkit": "PyPI torch/tensorflow wheels bundle the CUDA libraries they need: drop it",
    "cudatoolkit-dev": "drop it; PyPI GPU wheels bundle CUDA",
    "cudnn": "PyPI GPU wheels bundle cuDNN (or use the 'nvidia-cudnn-cu12' pip package)",
    "nccl": "use the 'nvidia-nccl-cu12' pip package, or drop it",
    "pytorch-cuda": "use the torch wheel built for your CUDA version from the PyTorch index",
    "cuda-nvcc": "install the CUDA toolkit on the machine or in the base image",
    "magma": "drop it; PyPI torch wheels bundle what they need",
    "graphviz": "install the graphviz program with apt (the 'graphviz' pip package is conda's 'python-graphviz')",
    "r-base": "R is not supported: deploy Python models only",
    "nodejs": "install Node.js in the base image if you need it",
    "git": "install git in the base image if you need it",
    "ffmpeg": "install ffmpeg with apt, or use the 'imageio-ffmpeg' pip package",
    "gcc": "compilers are not installed into environments; use wheels",
    "gxx": "compilers are not installed into environments; use wheels",
    "gfortran": "compilers are not installed into environments; use wheels",
    "compilers": "compilers are not installed into environments; use wheels",
    "c-compiler": "compilers are not installed into environments; use wheels",
    "cxx-compiler": "compilers are not installed into environments; use wheels",
    "cudf": "RAPIDS on PyPI is 'cudf-cu12' from NVIDIA's index; pick that pip package",
}

_CONDA_ONLY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("r-", "R packages are not supported: deploy Python models only"),
    ("cuda-", "PyPI GPU wheels bundle CUDA: drop it, or use the matching 'nvidia-*' pip package"),
    ("gcc_", "compilers are not installed into environments; use wheels"),
    ("gxx_", "compilers are not installed into environments; use wheels"),
)

# name, then an optional version part: "name=1.2=build", "name 1.2 build", "name>=1,<2", "name[version='>=1']"
_NAME_RE = re.compile(r"^\s*([A-Za-z0-9_][A-Za-z0-9._-]*)\s*(.*?)\s*$")
_BRACKET_VERSION_RE = re.compile(r"""version\s*=\s*['"]?([^'",\]]+(?:,[^'",\]]+)*)['"]?""")


@dataclass(frozen=True)
class CondaPackage:
    """One conda match spec, split into its parts.

    ``name`` is lower-cased; ``version`` is conda's version expression or ``""``.
    """

    spec: str
    name: str
    version: str


@dataclass(frozen=True)
class PipEquivalent:
    """What a conda package becomes: a pip requirement, a skip note, or a conda-only hint."""

    conda: CondaPackage
    requirement: str | None = None
    note: str = ""
    conda_only_hint: str = ""


def parse_conda_spec(spec: str) -> CondaPackage:
    """Split a conda match spec (``conda-forge::numpy=1.21=py39_0``) into name and version.

    Raises
    ------
    EnvironmentSpecError
        When the spec has no package name.
    """
    text = str(spec).strip()
    if "::" in text:
        text = text.split("::", 1)[1]
    elif "/" in text.split("=", 1)[0].split(" ", 1)[0]:
        text = text.rsplit("/", 1)[1]  # "conda-forge/linux-64/numpy=1.2" style
    match = _NAME_RE.match(text)
    if not match:
        raise EnvironmentSpecError(
            f"cannot read the conda package spec {spec!r}: expected 'name', 'name=version' or "
            "'name>=version'. Fix that line of the conda file."
        )
    name, rest = match.group(1).lower(), match.group(2)
    if rest.startswith("["):
        found = _BRACKET_VERSION_RE.search(rest)
        version = found.group(1).strip() if found else ""
    elif rest.startswith("="):
        if rest.startswith("=="):
            version = "==" + rest[2:].split("=", 1)[0]  # "==1.2.3=build" -> "==1.2.3"
        else:
            version = rest[1:].split("=", 1)[0]  # "=1.21=build" -> "1.21"
    elif rest[:1] in {"<", ">", "!", "~"}:
        version = rest.split(" ", 1)[0]
    else:
        version = rest.split()[0] if rest.split() else ""  # "1.21 py39_0" -> "1.21"
    return CondaPackage(spec=str(spec), name=name, version=version.strip())


def conda_version_to_pip(version: str, spec: str) -> str:
    """Turn a conda version expression into a PEP 440 specifier string.

    ``1.21`` (conda's fuzzy match) becomes ``==1.21.*``, ``1.21.*`` the same,
    ``==1.21.2`` stays exact, ``>=1.20,<2`` stays as it is, ``*`` means any.

    Raises
    ------
    EnvironmentSpecError
        For conda expressions pip cannot express (``|`` alternatives).
    """
    version = version.strip()
    if version in {"", "*"}:
        return ""
    if "|" in version:
        raise EnvironmentSpecError(
            f"the conda spec {spec!r} uses '|' (either version), which pip requirements cannot "
            "express: pick one version range, e.g. '>=1.20,<1.22'."
        )
    parts = []
    for part in version.split(","):
        part = part.strip()
        if not part:
            continue
        if part[0] in "<>!~=":
            parts.append(part)
        elif part.endswith("*"):
            parts.append("==" + part.rstrip("*").rstrip(".") + ".*")
        else:
            parts.append(f"=={part}.*")
    text = ",".join(parts)
    try:
        return str(SpecifierSet(text))
    except InvalidSpecifier as err:
        raise EnvironmentSpecError(
            f"cannot turn the version of the conda spec {spec!r} into a pip version range "
            f"({text!r}): write it as 'name>=X,<Y' or move it to the 'pip:' section."
        ) from err


def pip_equivalent(spec: str) -> PipEquivalent:
    """Return what the conda package ``spec`` becomes for pip (see the module docstring)."""
    package = parse_conda_spec(spec)
    name = package.name
    if name in SKIP:
        return PipEquivalent(package, note=f"skipped conda package {spec!r}: {SKIP[name]}")
    hint = CONDA_ONLY.get(name)
    if hint is None:
        for prefix, prefix_hint in _CONDA_ONLY_PREFIXES:
            if name.startswith(prefix):
                hint = prefix_hint
                break
    if hint is not None:
        return PipEquivalent(package, conda_only_hint=hint)
    pip_name = RENAMES.get(name, name)
    specifier = conda_version_to_pip(package.version, spec)
    note = f"conda package {name!r} is {pip_name!r} on PyPI" if pip_name != name else ""
    return PipEquivalent(package, requirement=f"{pip_name}{specifier}", note=note)
