"""CSV files: headers said, not guessed; every bad cell named by its line and column."""

from __future__ import annotations

import numpy as np
import pytest

from fnnet import loaders
from fnnet.loaders import DataError
from tests.support.files import raises, write


def test_csv_without_header(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n3,4.5,1\n\n5,6,2\n")
    x, y = loaders.load_csv(path)
    np.testing.assert_array_equal(x, np.array([[1, 2], [3, 4.5], [5, 6]], np.float32))
    assert x.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 1, 2])
    assert y.dtype == np.int32
    x0, y0 = loaders.load_csv(path, label_column=0)
    np.testing.assert_array_equal(y0, [1, 3, 5])
    np.testing.assert_array_equal(x0[:, 1], [0, 1, 2])


def test_csv_with_header_and_named_label(tmp_path):
    path = write(tmp_path / "d.csv", "label,a,b\n7,1,2\n9,3,4\n")
    x, y = loaders.load_csv(path, label_column="label")  # header detected: no cell is a number
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(y, [7, 9])
    with pytest.raises(DataError, match=r"column named 'kind', found columns \['label', 'a', 'b'\]"):
        loaders.load_csv(path, label_column="kind")
    # A spreadsheet's byte-order mark does not stick to the first name.
    path.write_bytes(b"\xef\xbb\xbfa,label\n1,2\n")
    np.testing.assert_array_equal(loaders.load_csv(path, label_column="label")[1], [2])
    path.write_bytes(b"a,label\n1,\xff\n")
    with pytest.raises(DataError, match="d.csv: expected UTF-8 CSV text"):
        loaders.load_csv(path)


def test_csv_float_labels_are_targets(tmp_path):
    x, t = loaders.load_csv(write(tmp_path / "d.csv", "1,0.5\n2,1.5\n"))
    assert t.dtype == np.float32 and t.shape == (2, 1)
    np.testing.assert_array_equal(t[:, 0], [0.5, 1.5])


def test_csv_non_numeric_cell(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError, match=r"line 3, column 2 \('b'\): expected a number, found 'oops'"):
        loaders.load_csv(path)
    path.write_text("1,2,0\n3,4,1\n5,6,x\n")
    with pytest.raises(DataError, match=r"line 3, column 3: expected a number, found 'x'"):
        loaders.load_csv(path)


def test_csv_ragged_and_ambiguous(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n3,4\n")
    with pytest.raises(DataError, match="line 2: expected 3 columns, found 2"):
        loaders.load_csv(path)
    path.write_text("id,2,0\n3,4,1\n")
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'id' in a row that also holds "
                           "numbers; pass header=True if line 1 is a header"):
        loaders.load_csv(path)
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'id'"):
        loaders.load_csv(path, header=False)
    assert loaders.load_csv(path, header=True)[0].shape == (1, 2)


def test_csv_mixed_first_row_names_the_first_text_column(tmp_path):
    # The old message said only that the line mixes numbers and text; the column and
    # the cell now say where, and blank lines before it count.
    path = write(tmp_path / "d.csv", "\n\n1,2,x,y\n3,4,5,6\n")
    with raises(DataError, f"{path}: line 3, column 3: expected a number, found 'x' in a row that also holds "
                           "numbers; pass header=True if line 3 is a header"):
        loaders.load_csv(path)
    x, y = loaders.load_csv(path, header=True)
    np.testing.assert_array_equal(x, [[3, 4, 5]])
    np.testing.assert_array_equal(y, [6])


def test_csv_header_auto_never_drops_a_numeric_row(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n3,4,1\n")
    assert loaders.load_csv(path)[0].shape == (2, 2)
    assert loaders.load_csv(path, header=False)[0].shape == (2, 2)
    assert loaders.load_csv(path, header=True)[0].shape == (1, 2)  # asked for outright
    with pytest.raises(TypeError, match=r"header must be True, False or None .*, got 'yes'"):
        loaders.load_csv(path, header="yes")


def test_csv_header_false_refuses_a_text_row(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,label\n1,2,0\n")
    assert loaders.load_csv(path)[0].shape == (1, 2)  # auto: a header
    with raises(DataError, f"{path}: line 1, column 1: expected a number, found 'a'"):
        loaders.load_csv(path, header=False)


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"])
def test_csv_non_finite_cell_names_line_and_column(tmp_path, cell):
    # A header and blank lines count: the line is the file's own.
    path = write(tmp_path / "d.csv", f"a,b,c\n\n1,2,0\n3,4,1\n\n5,6,0\n7,8,{cell}\n")
    with raises(DataError, f"{path}: line 7, column 3 ('c'): expected a finite number, found '{cell}'"):
        loaders.load_csv(path)
    path.write_text(f"1,2,0\n\n3,4,1\n\n\n5,6,0\n7,{cell},1\n")
    with raises(DataError, f"{path}: line 7, column 2: expected a finite number, found '{cell}'"):
        loaders.load_csv(path)


def test_csv_non_finite_line_across_blocks_and_quoted_newlines(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders.csv_files, "_CSV_BLOCK", 2)  # the file is parsed two rows at a time
    path = write(tmp_path / "d.csv", '1,2,0\n3,4,1\n5,"6\n",1\n7,8,1\n9,10,1\n11,nan,0\n')
    # The quoted cell spans lines 3 and 4, so the bad cell is on line 7.
    with raises(DataError, f"{path}: line 7, column 2: expected a finite number, found 'nan'"):
        loaders.load_csv(path)


def test_csv_value_beyond_float32(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n1e39,4,1\n")  # finite in float64, inf in float32
    with raises(DataError, f"{path}: line 2, column 1: expected a number within float32's range "
                           "(about ±3.4e+38), found '1e39'"):
        loaders.load_csv(path)


@pytest.mark.parametrize("text, why", [
    ("a,b,label\n", "a header and no rows"),
    ("a,b,label\n\n  \n", "a header and no rows"),
    ("", "the file holds no rows"),
    ("\n\n", "the file holds no rows"),
])
def test_csv_empty(tmp_path, text, why):
    path = write(tmp_path / "d.csv", text)
    with raises(DataError, f"{path}: the data set is empty ({why})"):
        loaders.load_csv(path)


@pytest.mark.parametrize("cell", ["1_000", "1_0.5", "١٢"])
def test_numbers_python_takes_but_csv_does_not_are_refused(tmp_path, cell):
    # b05: float('1_000') is 1000, and float('١٢') is 12; in a CSV file neither is a number.
    path = write(tmp_path / "d.csv", f"a,b\n1,0\n{cell},1\n")
    with raises(DataError, f"{path}: line 3, column 1 ('a'): expected a number, found {cell!r}"):
        loaders.load_csv(path, header=True)
    path = write(tmp_path / "e.csv", f"1,0\n2,1\n3,{cell}\n")
    with raises(DataError, f"{path}: line 3, column 2: expected a number, found {cell!r}"):
        loaders.load_csv(path)


def test_a_field_too_long_is_named_by_its_line(tmp_path):
    # b03: it was "expected UTF-8 CSV text, found something else (field larger than field limit (131072))".
    path = write(tmp_path / "d.csv", "1,0\n2,1\n" + "1" * 200_000 + ",1\n")
    with raises(DataError, f"{path}: line 3: expected a field of at most 131072 characters, found a longer one"):
        loaders.load_csv(path)
    with raises(DataError, f"{path}: line 3: expected a field of at most 131072 characters, found a longer one"):
        loaders.load_features(path)


def test_a_label_name_that_two_columns_share_is_ambiguous(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("label,a,label\n0,0.5,1\n1,0.25,0\n")
    with pytest.raises(DataError, match=rf"^{path}: line 1: expected one column named 'label', found 2 \(columns 1, "
                                        r"3\); pass the label's column number instead$"):
        loaders.load_csv(path, label_column="label", header=True)
