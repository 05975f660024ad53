"""``fit --plot``: the coefficient path and the cross-validation curve (matplotlib, optional)."""

from __future__ import annotations

from typing import Any, BinaryIO

from .errors import UsageError


def check_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'normcli[plot]'") from None


def plot_report(report: Any, fh: BinaryIO) -> None:
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
        ax.set_xlabel("alpha")
        ax.set_ylabel("coefficient")
        ax.set_title(f"coefficient path ({report.result.penalty})")
        if len(report.features) <= 12:
            ax.legend(fontsize="small")
    else:
        ax.bar(range(len(report.features)), report.result.coef)
        ax.set_xticks(range(len(report.features)), report.features, rotation=45, ha="right")
        ax.set_ylabel("coefficient")
        ax.set_title("coefficients")
    if has_cv:
        cv = report.cv
        ax2 = axes[0][1]
        ax2.errorbar(cv.alphas, cv.mse_mean, yerr=cv.mse_se, fmt="o-", markersize=3,
                     capsize=2, linewidth=1)
        ax2.set_xscale("log")
        ax2.axvline(cv.alpha_min, color="tab:red", linestyle="--", label="alpha_min")
        ax2.axvline(cv.alpha_1se, color="tab:green", linestyle=":", label="alpha_1se")
        ax2.set_xlabel("alpha")
        ax2.set_ylabel("validation MSE")
        ax2.set_title(f"{cv.folds}-fold cross-validation")
        ax2.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(fh, format="png", dpi=100)
    plt.close(fig)
