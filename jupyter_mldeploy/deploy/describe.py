"""Services and packages as readable text: what a terminal shows for them (a kernel shows a panel).

Used by their ``_repr_mimebundle_`` through :func:`jupyter_mldeploy.display.mimebundle`.
"""

from __future__ import annotations

from typing import Any


def _phase_lines(phases: list[dict[str, Any]]) -> list[str]:
    lines = []
    for phase in phases:
        ok = phase.get("ok")
        mark = "ok" if ok is True else "FAILED" if ok is False else "running"
        detail = str(phase.get("detail") or "").splitlines()[0:1]
        lines.append(
            f"    {phase.get('name', '?'):<12} {float(phase.get('seconds') or 0):7.2f}s  {mark:<7}"
            + (f" {detail[0][:100]}" if detail else "")
        )
    return lines


def service_text(service: Any) -> str:
    """A service as readable lines: name, target, state, URIs, models, auth, phases with timings, error.

    Examples
    --------
    >>> print(service_text(service))        # doctest: +SKIP
    ProcessWebservice 'scale' (process): Healthy
      scoring URI: http://127.0.0.1:41234/score
      ...
    """
    state = service.state
    lines = [
        f"{type(service).__name__} {service.name!r} ({service.compute_type}): {state}",
        f"  scoring URI: {service.scoring_uri or '(no port yet)'}",
        f"  swagger:     {service.swagger_uri or '(no port yet)'}",
        f"  models:      {', '.join(service.models) or '(none)'}",
        f"  auth:        {'on (keys: service.get_keys())' if service.auth_enabled else 'off'}",
        f"  debug:       {_debug_text(service)}",
    ]
    phases = service.phases
    if phases:
        lines.append("  phases:")
        lines.extend(_phase_lines(phases))
    if state in ("Failed", "Unhealthy") and service.error:
        lines.append(f"  error:       {service.error.splitlines()[0]}")
        lines.append("  (service.get_logs() has the server's log)")
    return "\n".join(lines)


def package_text(package: Any) -> str:
    """A model package as readable lines: image tag or Dockerfile context, state, phases, error."""
    where = (
        f"Dockerfile context (write it with package.save(FOLDER)) for {package.location}"
        if package.generate_dockerfile
        else f"image {package.location}"
    )
    lines = [f"ModelPackage {where}: {package.state}"]
    phases = [p.to_dict() for p in list(package.progress.phases)]
    if phases:
        lines.append("  phases:")
        lines.extend(_phase_lines(phases))
    error = package.progress.error
    if error is not None:
        lines.append(f"  error: {(str(error) or type(error).__name__).splitlines()[0]}")
    return "\n".join(lines)


def _debug_text(service: Any) -> str:
    if getattr(service, "debug", False):
        return "on: run() tracebacks go into 500 answers (deploy_configuration(debug=False) turns it off)"
    return "off"
