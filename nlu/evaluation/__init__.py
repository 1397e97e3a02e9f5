"""Evaluation of trained NLU models, with result files in Rasa 3.x's format.

``evaluate`` scores a parser on labelled data, ``cross_validate`` trains and scores one parser
per stratified fold; both write ``intent_report.json``, ``intent_errors.json``, the intent
confusion matrix and confidence histogram and, when the data has entities,
``entity_report.json`` and ``entity_errors.json``. The metrics themselves are pure functions
(``intent_metrics``, ``entity_metrics``) usable without any file or model.
"""

from .cross_validation import check_folds, cross_validate, fold_assignment, out_of_fold_parses
from .entities import entity_counts, entity_errors, entity_matches, entity_metrics
from .intents import (
    FALLBACK,
    OUT_OF_SCOPE,
    intent_confusion,
    intent_errors,
    intent_metrics,
    map_fallback,
    out_of_scope_metrics,
)
from .plots import plot_confidence_histogram, plot_confusion_matrix
from .report import Parser, evaluate, parse_all, print_summary, write_results

__all__ = [
    "FALLBACK",
    "OUT_OF_SCOPE",
    "Parser",
    "check_folds",
    "cross_validate",
    "entity_counts",
    "entity_errors",
    "entity_matches",
    "entity_metrics",
    "evaluate",
    "fold_assignment",
    "intent_confusion",
    "intent_errors",
    "intent_metrics",
    "map_fallback",
    "out_of_fold_parses",
    "out_of_scope_metrics",
    "parse_all",
    "plot_confidence_histogram",
    "plot_confusion_matrix",
    "print_summary",
    "write_results",
]
