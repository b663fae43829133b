"""The file contracts (docs/design.md, section 4): every file, folder, column and key that one
stage writes and another reads, as one typed object used by both.

* ``names``: every file, folder and column name, and nothing else (imports nothing);
* ``folders``: :class:`RunDir` and :class:`EvalDir`, the two folders' paths;
* ``metrics_csv``: ``metrics.csv`` (:class:`EpochRow`, :class:`MetricsLog`, :func:`read_metrics`);
* ``environment``, ``train_summary``, ``init_record``, ``data_check``: ``environment.json``
  (:class:`RunEnvironment`), ``train_summary.json`` (:class:`TrainSummary`), ``init.json``
  (:class:`InitRecord`), ``data_check.json`` (:class:`DataCheckFile`);
* ``check_data``, ``curation``: the rows' measurements check-data keeps (:class:`Measures`) and
  ``<stem>.curation.json`` (:class:`CurationRecord`);
* ``metric_registry``, ``conditions``, ``evaluation``: the evaluation's metrics and their
  columns, the condition tables, ``evaluation_results.csv`` and ``summary.json``
  (:class:`EvaluationSummary`);
* ``utterance``: one line of ``evaluation_results.csv`` (:class:`UtteranceRow`, one
  :class:`MetricScores` per metric);
* the exported ``model.onnx``'s names stay in ``tfgridnet.onnx_contract`` (below every layer).

The layer sits below every stage that writes or reads these files (model and data included) and
above audio/; the names are imported lazily, so a torch-free stage that needs a name loads
neither pydantic nor numpy-heavy readers.
"""

from tfgridnet.lazy import lazy_exports

_WHERE = {
    "RunDir": ".folders", "EvalDir": ".folders", "RUN_SUBDIRS": ".folders",
    "find_eval_dir": ".folders",
    "EpochRow": ".metrics_csv", "MetricsLog": ".metrics_csv", "read_metrics": ".metrics_csv",
    "split_initial_row": ".metrics_csv",
    "TrainSummary": ".train_summary", "InitRecord": ".init_record",
    "RunEnvironment": ".environment",
    "DataCheckFile": ".data_check", "Measures": ".check_data", "CurationRecord": ".curation",
    "Metric": ".metric_registry", "MetricSet": ".metric_registry",
    "METRIC_REGISTRY": ".metric_registry",
    "EvaluationSummary": ".evaluation", "MetricSummary": ".evaluation",
    "read_results_csv": ".evaluation", "write_results_csv": ".evaluation",
    "csv_columns": ".evaluation", "table_rows": ".evaluation", "ConditionGroup": ".conditions",
    "UtteranceRow": ".utterance", "MetricScores": ".utterance",
}
__all__ = sorted(_WHERE)
__getattr__ = lazy_exports(__name__, _WHERE)
