"""A search's report: the best candidate as fnnet train settings, written atomically."""

import json
import pathlib

from fnnet.runs import settings
from fnnet.structure import report as search_report


def test_the_best_configuration_is_train_settings(data, result, tmp_path):
    config = search_report.best_settings(result.best, data[1], epochs=2, batch_size=32)
    assert settings.with_defaults(**config)["hidden"] == list(result.best.candidate.hidden)
    written = search_report.write_best(tmp_path / "best.json", config)
    assert json.loads(pathlib.Path(written).read_text()) == config
