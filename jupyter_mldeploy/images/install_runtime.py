"""Install the pure-Python runtime wheel(s) next to this file into the running venv.

Written by jupyter-mldeploy into Docker build contexts. A py3-none-any wheel is
installed by unpacking it into site-packages; before that, every requirement
the wheel declares must already be installed (from the wheelhouse), so a
wheelhouse that lacks one fails the build here with its name.
"""

import compileall
import pathlib
import sys
import sysconfig
import zipfile
from email.parser import Parser
from importlib import metadata

try:
    from packaging.requirements import Requirement
except ImportError:  # the check needs packaging; without it, install without checking
    Requirement = None

here = pathlib.Path(__file__).resolve().parent
purelib = pathlib.Path(sysconfig.get_paths()["purelib"])
wheels = sorted(here.glob("*.whl"))
if not wheels:
    sys.exit(f"no runtime wheel in {here}: put the jupyter-mldeploy wheel in the build context's runtime/ folder")
for wheel in wheels:
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        wheel_info = archive.read(meta_name.rsplit("/", 1)[0] + "/WHEEL").decode()
        if "Root-Is-Purelib: true" not in wheel_info:
            sys.exit(f"{wheel.name} is not a pure-Python wheel; build the runtime wheel with jupyter_mldeploy._runtime")
        missing = []
        for text in Parser().parsestr(archive.read(meta_name).decode()).get_all("Requires-Dist") or []:
            if Requirement is None:
                break
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            try:
                version = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                missing.append(f"{req} (not installed)")
                continue
            if req.specifier and not req.specifier.contains(version, prereleases=True):
                missing.append(f"{req} (found {version})")
        if missing:
            sys.exit(
                f"{wheel.name} needs packages the environment lacks: {', '.join(missing)}; "
                "add them to the wheelhouse (the environment's requirements) and build again"
            )
        archive.extractall(purelib)
        dist_info = purelib / meta_name.rsplit("/", 1)[0]
        (dist_info / "INSTALLER").write_text("jupyter-mldeploy\n")
        top = {n.split("/", 1)[0] for n in archive.namelist() if not n.split("/", 1)[0].endswith(".dist-info")}
    for name in sorted(top):
        compileall.compile_dir(str(purelib / name), quiet=1)
    print(f"installed {wheel.name} into {purelib}")
