"""A load test's latency histogram as a PNG picture, p50/p95/p99 marked (the test panel, ``mldeploy loadtest --png``).

Drawn with matplotlib's object API (no pyplot, no global state); matplotlib comes with
the ``jupyter`` extra and is imported only here, only when a picture is asked for.
"""

from __future__ import annotations

from io import BytesIO
from typing import Protocol

from ..errors import InvalidArgumentError


class LoadTestResult(Protocol):
    """What the picture needs of a :class:`~jupyter_mldeploy.client.stats.LoadTestResult`."""

    latencies: list[float]

    @property
    def p50(self) -> float: ...

    @property
    def p95(self) -> float: ...

    @property
    def p99(self) -> float: ...

    def histogram(self, bins: int = ...) -> tuple[list[float], list[int]]: ...

__all__ = ["latency_png"]


def latency_png(result: LoadTestResult, width: int = 640, height: int = 320) -> bytes:
    """The latency histogram as PNG bytes of ``width`` x ``height`` pixels, p50/p95/p99 marked.

    Drawn with matplotlib's object API (no pyplot, no global state); needs matplotlib
    (the ``jupyter`` extra).
    """
    if width < 100 or height < 80 or width > 4000 or height > 4000:
        raise InvalidArgumentError(
            f"plot size {width}x{height} is out of range; pick width and height between 100x80 and 4000x4000 pixels"
        )
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise InvalidArgumentError(
            "plot_png needs matplotlib: pip install 'jupyter-mldeploy[jupyter]'"
        ) from err
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    edges, counts = result.histogram()
    edges_ms = [e * 1000 for e in edges]
    if result.latencies:
        axes.stairs(counts, edges_ms, fill=True, color="#8cb4e0", edgecolor="#2f6db5")
        for name, value, colour in (
            ("p50", result.p50, "#1a7f37"),
            ("p95", result.p95, "#9a6700"),
            ("p99", result.p99, "#cf222e"),
        ):
            axes.axvline(
                value * 1000,
                color=colour,
                linestyle="--",
                linewidth=1.2,
                label=f"{name} {value * 1000:.2f} ms",
            )
        axes.legend(
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=3,
            fontsize="small",
            frameon=False,
        )
    else:
        axes.text(0.5, 0.5, "no answers", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("latency (ms)")
    axes.set_ylabel("requests")
    figure.tight_layout()
    out = BytesIO()
    figure.savefig(out, format="png", dpi=dpi)
    return out.getvalue()
