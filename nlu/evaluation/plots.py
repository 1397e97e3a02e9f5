"""The two intent plots Rasa writes: a confusion matrix and a confidence histogram.

Figures are drawn on their own Agg canvas (no ``pyplot``), so plotting works headless, does not
touch matplotlib's global state and is safe to call from several threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib import colormaps
from matplotlib.colors import ListedColormap, LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

# Above this many labels the matrix is drawn without per-cell numbers and with small ticks.
MANY_LABELS = 30


def _truncated(name: str, low: float = 0.25) -> ListedColormap:
    """``name`` without its palest part, so that a count of 1 is clearly visible."""
    return ListedColormap(colormaps[name](np.linspace(low, 1.0, 256)), name=f"{name}_from_{low}")


def _save(fig: Figure, path: Path, dpi: int = 100) -> None:
    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi)


def plot_confusion_matrix(
    matrix: np.ndarray,
    labels: Sequence[str],
    path: Path,
    title: str = "Intent Confusion matrix",
) -> None:
    """Rows = true label, columns = predicted label; diagonal in blue, confusions in red (both
    log-scaled), empty cells blank.

    Up to :data:`MANY_LABELS` labels every non-empty cell gets its count; beyond that the
    counts are left out and tick labels shrink with the number of labels so that, e.g., the
    151 CLINC150 intents still render legibly (in a few seconds).
    """
    matrix = np.asarray(matrix)
    n = len(labels)
    many = n > MANY_LABELS
    if many:
        side = min(max(12.0, 0.13 * n), 40.0)
        tick_size = max(3.0, min(7.0, 900.0 / n))
    else:
        side = max(6.0, 0.5 * n + 3.0)
        tick_size = 10.0 if n <= 15 else 8.0
    fig = Figure(figsize=(side + 2.5, side))
    ax = fig.add_subplot(1, 1, 1)

    # Correct predictions (the diagonal) in blue, confusions in red, on log scales; empty cells
    # stay white. A single confusion then stands out even among 151 labels.
    diagonal = np.eye(n, dtype=bool)
    layers = []
    for cmap_name, mask, name in (
        ("Blues", ~diagonal, "correct"),
        ("Reds", diagonal, "confused"),
    ):
        values = np.ma.masked_where(mask | (matrix < 1), matrix.astype(float))
        top = float(values.max()) if values.count() else 1.0
        norm = LogNorm(vmin=1.0, vmax=max(top, 2.0))
        cmap = _truncated(cmap_name)
        image = ax.imshow(values, interpolation="nearest", cmap=cmap, aspect="auto", norm=norm)
        # The first bar ends up outermost; its larger pad leaves room for the inner bar's label.
        pad = 0.06 if not layers else 0.01
        colorbar = fig.colorbar(image, ax=ax, fraction=0.03, pad=pad)
        colorbar.set_label(name)
        colorbar.ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        colorbar.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        colorbar.ax.yaxis.set_minor_formatter(NullFormatter())
        layers.append(norm)

    ax.set_title(title)
    ticks = np.arange(n)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels(labels, rotation=90, fontsize=tick_size)
    ax.set_yticklabels(labels, fontsize=tick_size)
    ax.set_ylabel("True label")
    ax.set_xlabel("Predicted label")

    if not many and n:
        for i, j in zip(*np.nonzero(matrix)):
            value = int(matrix[i, j])
            norm = layers[0] if i == j else layers[1]
            ax.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                fontsize=tick_size,
                color="white" if float(norm(value)) > 0.6 else "black",
            )
    fig.tight_layout()
    _save(fig, Path(path))


def plot_confidence_histogram(
    correct: Sequence[float],
    wrong: Sequence[float],
    path: Path,
    title: str = "Intent Prediction Confidence Distribution",
    bins: int = 25,
) -> None:
    """Rasa's paired histogram: confidence on the shared vertical axis, the number of correct
    predictions extending to the left and of wrong ones to the right."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    correct_counts, _ = np.histogram(np.clip(np.asarray(correct, float), 0, 1), bins=edges)
    wrong_counts, _ = np.histogram(np.clip(np.asarray(wrong, float), 0, 1), bins=edges)
    height = edges[1] - edges[0]
    top = max(int(correct_counts.max(initial=0)), int(wrong_counts.max(initial=0)), 1) * 1.05

    fig = Figure(figsize=(10, 6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, counts, colour, name in (
        (axes[0], correct_counts, "#009292", "Correct"),
        (axes[1], wrong_counts, "#920000", "Wrong"),
    ):
        ax.barh(edges[:-1], counts, height=height, align="edge", color=colour, edgecolor="white")
        ax.set_xlim(0, top)
        ax.set_title(f"{name} ({int(counts.sum())})")
        ax.set_xlabel("Number of Samples")
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_xaxis()
    axes[0].set_ylabel("Confidence")
    axes[0].set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, Path(path))
