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


def test_the_report_names_the_winning_kind_and_its_margin():
    from fnnet.structure.evolution import Entry, SearchResult
    from fnnet.structure.space import Candidate

    conv = Candidate((), "relu", 0.0, "adam", 0.01, 0.0, ((8, 3, 1, "max"),))
    dense = Candidate((64,), "relu", 0.2, "adam", 0.001, 0.0)

    def entry(c, val):
        return Entry(c, 100, val, None, 1.0, 1, False)

    both = SearchResult([entry(conv, 0.95), entry(dense, 0.8125), entry(conv, 0.5)], [], False)
    assert both.best_of("dense").candidate is dense and abs(both.margin() - 0.1375) < 1e-12
    assert search_report.kind_line(both) == ("the winner is convolutional (95.00% validation accuracy), 13.75 points "
                                            "above the best fully connected candidate (81.25%: 64 relu adam lr 0.001 "
                                            "l2 0 dropout 0.20)")
    alone = SearchResult([entry(dense, 0.8)], [], False)
    assert alone.margin() is None and alone.best_of("conv") is None
    assert search_report.kind_line(alone) == ("the winner is fully connected (80.00% validation accuracy); no "
                                             "convolutional candidate was trained")


def test_a_convolutional_best_is_train_settings_that_build_its_network(data):
    from fnnet.structure.evolution import Entry
    from fnnet.structure.space import Candidate

    c = Candidate((32,), "tanh", 0.1, "adam", 0.01, 0.0, ((8, 3, 1, "max"), (16, 5, 2, "none")))
    config = search_report.best_settings(Entry(c, 0, 0.9, None, 1.0, 1, False), data[1], epochs=2, batch_size=32)
    merged = settings.with_defaults(**config)
    assert settings.blocks(merged) == [(8, 3, 1, "max"), (16, 5, 2, "none")] and merged["hidden"] == [32]
