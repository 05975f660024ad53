"""``fit --plot``: the coefficient path and the cross-validation curve (matplotlib, optional)."""

from __future__ import annotations

import os
from typing import Any, BinaryIO

from .errors import UsageError

#: The image formats ``--plot`` writes, by file extension (matplotlib's ``savefig`` formats
#: that need nothing beyond matplotlib itself: not ``pgf``, which needs LaTeX, nor the raw
#: pixel buffers ``raw``/``rgba``).
IMAGE_FORMATS = ("png", "svg", "svgz", "pdf", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")


def image_format(path: str) -> str:
    """The image format of ``--plot PATH``, from its extension (case-insensitive); an unknown
    or missing extension is a usage error (checked before any data is read)."""
    ext = os.path.splitext(os.path.basename(path))[1].lower().lstrip(".")
    if ext not in IMAGE_FORMATS:
        given = f"'.{ext}' is not an image format" if ext else "no extension"
        raise UsageError(f"--plot {path}: {given}; the extension chooses the format: "
                         + ", ".join(f".{e}" for e in IMAGE_FORMATS))
    return ext


def check_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'normcli[plot]'") from None


def plot_report(report: Any, fh: BinaryIO, fmt: str = "png") -> None:
    import io
    import logging

    import matplotlib.pyplot as plt

    fig = make_figure(report)
    log = logging.getLogger("matplotlib")
    level = log.level
    buf = io.BytesIO()  # some writers (Pillow's TIFF) seek in their file
    try:
        # A successful run prints nothing: matplotlib logs notices such as PostScript's "does
        # not support transparency" (the image is written all the same).
        log.setLevel(logging.ERROR)
        fig.savefig(buf, format=fmt, dpi=100)
    finally:
        log.setLevel(level)
        plt.close(fig)
    fh.write(buf.getbuffer())


def make_figure(report: Any) -> Any:
    """The figure of :func:`plot_report` (a matplotlib ``Figure``; the caller closes it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    has_cv = report.cv is not None
    fig, axes = plt.subplots(1, 2 if has_cv else 1, figsize=(11 if has_cv else 6, 4.2),
                             squeeze=False)
    ax = axes[0][0]
    if report.path:
        alphas = np.array([r.alpha for r in report.path])
        coefs = np.array([r.coef for r in report.path])
        order = np.argsort(alphas)
        for j, name in enumerate(report.features):
            ax.plot(alphas[order], coefs[order, j], label=name)
        ax.set_xscale("log")
        ax.axvline(report.result.alpha, color="k", linestyle=":", linewidth=1)
        ax.annotate(f"alpha = {report.result.alpha:.3g}", xy=(report.result.alpha, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(2, -12),
                    textcoords="offset points", rotation=90, va="top", fontsize="small")
        ax.set_xlabel("alpha")
        ax.set_ylabel("coefficient")
        ax.set_title(f"coefficient path ({report.result.penalty})", pad=22)
        if len(report.features) <= 12:
            ax.legend(fontsize="small")
    else:
        ax.bar(range(len(report.features)), report.result.coef)
        ax.set_xticks(range(len(report.features)), report.features, rotation=45, ha="right")
        ax.set_ylabel("coefficient")
        ax.set_title("coefficients")
    if report.path and len(report.path) > 1:
        _nonzero_axis(ax, report.path)
    if has_cv:
        cv = report.cv
        ax2 = axes[0][1]
        ax2.errorbar(cv.alphas, cv.mse_mean, yerr=cv.mse_se, fmt="o-", markersize=3,
                     capsize=2, linewidth=1, color="tab:red", ecolor="0.6")
        ax2.set_xscale("log")
        if report.options.plot_log_mse:
            from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

            ax2.set_yscale("log")
            ax2.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            ax2.yaxis.set_major_formatter(ScalarFormatter())
            ax2.yaxis.set_minor_formatter(NullFormatter())
        for alpha, style, color, label in ((cv.alpha_min, "--", "tab:blue", "alpha_min"),
                                           (cv.alpha_1se, ":", "tab:green", "alpha_1se")):
            ax2.axvline(alpha, color=color, linestyle=style, label=f"{label} = {alpha:.3g}")
            ax2.annotate(label, xy=(alpha, 1.0), xycoords=("data", "axes fraction"),
                         xytext=(2, -12), textcoords="offset points", rotation=90,
                         va="top", fontsize="small", color=color)
        ax2.set_xlabel("alpha")
        ax2.set_ylabel("validation MSE" + (" (log scale)" if report.options.plot_log_mse
                                           else ""))
        ax2.set_title(f"{cv.folds}-fold cross-validation", pad=22)
        ax2.legend(fontsize="small")
        if report.path:
            _nonzero_axis(ax2, report.path)
    fig.tight_layout()
    return fig


def _nonzero_axis(ax: Any, path: Any) -> None:
    """glmnet's top axis: the number of non-zero coefficients at alphas along the bottom one."""
    import numpy as np

    alphas = np.array([r.alpha for r in path], dtype=np.float64)
    counts = [int(np.count_nonzero(r.coef)) for r in path]
    top = ax.twiny()
    top.set_xscale("log")
    top.set_xlim(ax.get_xlim())
    picks = np.unique(np.linspace(0, len(alphas) - 1, num=min(8, len(alphas))).round().astype(int))
    top.set_xticks(alphas[picks], [str(counts[i]) for i in picks])
    top.minorticks_off()
    top.tick_params(labelsize="small")
    top.set_xlabel("non-zero coefficients", fontsize="small")
