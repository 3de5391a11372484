"""CSV files of numbers: a header said (or a first line with no number at all), every
cell a finite number, each error naming the file, line and column."""

from __future__ import annotations

import contextlib
import csv

import numpy as np

from fnnet.loaders.checks import (DataError, checked, empty, existing, finite_expected, first_bad,
                                  labels_from_floats)


# --- CSV -------------------------------------------------------------------------------

_CSV_BLOCK = 4096  # rows converted at once: NumPy's fast parse without holding every cell as a str


def _is_number(cell: str) -> bool:
    # Python's float() also takes '1_000' and digits of other scripts ('١'): not CSV numbers.
    if "_" in cell or not cell.isascii():
        return False
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _blank(row) -> bool:
    # csv.reader gives [] for an empty line; a line of spaces is blank too, not a cell ' '.
    return not row or (len(row) == 1 and not row[0].strip())


def _column(j: int, names) -> str:
    return f"column {j + 1}" + (f" ({names[j]!r})" if names else "")


def _floats(block, lines, names, path):
    """Rows of cells (str) from the given file lines as float64 (rows, columns), each
    value finite within float32's range, else a DataError naming line, column, cell."""
    text = "".join(map("".join, block))
    try:  # NumPy's parse is Python's float(), which takes '1_000': such a block goes the slow way
        table = np.array(block, np.float64) if "_" not in text and text.isascii() else None
    except ValueError:
        table = None
    if table is None:
        for row, line in zip(block, lines):  # slow path, only to say where the bad cell is
            for j, cell in enumerate(row):
                if not _is_number(cell):
                    raise DataError(f"{path}: line {line}, {_column(j, names)}: expected a number, found {cell!r}")
        table = np.array([[float(c) for c in row] for row in block], np.float64)
    bad = first_bad(table)
    if bad is not None:
        i, j = bad
        raise DataError(f"{path}: line {lines[i]}, {_column(j, names)}: {finite_expected(table[i, j])}, "
                        f"found {block[i][j]!r}")
    return table


@contextlib.contextmanager
def csv_errors(path):
    """CSV's and decoding's errors as DataErrors naming ``path``; the list it yields takes
    the reader, so that a field too long is named by its line."""
    readers = []
    try:
        yield readers
    except csv.Error as e:
        if "field larger than field limit" in str(e):
            line = f"line {readers[-1].line_num}: " if readers else ""
            raise DataError(f"{path}: {line}expected a field of at most {csv.field_size_limit()} characters, "
                            "found a longer one") from None
        raise DataError(f"{path}: expected UTF-8 CSV text, found something else ({e})") from e
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: expected UTF-8 CSV text, found something else ({e})") from e


def csv_start(reader, header, path):
    """The first row of a CSV file: (names or None, width, rows to parse as data, with
    their line numbers). ``header=None`` decides by the row itself and never drops data:
    no number in it is a header, all numbers is data, a mix is a DataError."""
    if header not in (None, True, False):
        raise TypeError(f"header must be True, False or None (decide from the first row), got {header!r}")
    first = next((r for r in reader if not _blank(r)), None)
    if first is None:
        raise empty(path, "the file holds no rows")
    line = reader.line_num
    if header is None:
        numeric = [_is_number(c) for c in first]
        if any(numeric) and not all(numeric):
            j = numeric.index(False)
            raise DataError(f"{path}: line {line}, column {j + 1}: expected a number, found {first[j]!r} in a row "
                            f"that also holds numbers; pass header=True if line {line} is a header")
        header = not any(numeric)
    if header:
        return [c.strip() for c in first], len(first), []
    return None, len(first), [(line, first)]


def csv_table(reader, names, width, pending, path):
    """The data rows after ``csv_start`` as float64 (n, width), n > 0."""
    blocks, block, lines = [], [row for _, row in pending], [line for line, _ in pending]
    for row in reader:
        if _blank(row):
            continue
        if len(row) != width:
            raise DataError(f"{path}: line {reader.line_num}: expected {width} columns, found {len(row)}")
        block.append(row)
        lines.append(reader.line_num)
        if len(block) == _CSV_BLOCK:
            blocks.append(_floats(block, lines, names, path))
            block, lines = [], []
    if block:
        blocks.append(_floats(block, lines, names, path))
    if not blocks:
        raise empty(path, "a header and no rows")
    return np.concatenate(blocks)


def open_csv(path):
    # utf-8-sig: a spreadsheet's byte-order mark would otherwise stick to the first cell.
    return open(path, newline="", encoding="utf-8-sig")


def _label_index(label_column, names, width: int, path) -> int:
    if isinstance(label_column, str):
        if names is None:
            raise ValueError(f"label_column={label_column!r} is a name, but {path} has no header; "
                             "pass header=True or an integer index")
        if label_column not in names:
            raise DataError(f"{path}: expected a column named {label_column!r}, found columns {names}")
        if names.count(label_column) > 1:
            columns = [i + 1 for i, name in enumerate(names) if name == label_column]
            raise DataError(f"{path}: line 1: expected one column named {label_column!r}, found {len(columns)} "
                            f"(columns {', '.join(map(str, columns))}); pass the label's column number instead")
        return names.index(label_column)
    if isinstance(label_column, (int, np.integer)) and not isinstance(label_column, bool):
        if not -width <= label_column < width:
            raise ValueError(f"label_column={label_column} is out of range for {path}'s {width} columns")
        return int(label_column) % width
    raise TypeError(f"label_column must be an int index or a column name, got {label_column!r}")


def load_csv(path, label_column=-1, header=None, *, delimiter=","):
    """A UTF-8 CSV file of numbers with one label column: x float32 (n, columns - 1), y
    int32 (n,) when every label is an integer, else float32 (n, 1). ``label_column`` is
    an index or, with a header, a column name. ``header=None`` takes the first row as a
    header when none of its cells is a number, as data when all are, and is a DataError
    when it mixes the two (pass ``header=True`` then); True/False say it outright."""
    p = existing(path)
    with csv_errors(p) as readers, open_csv(p) as f:
        reader = csv.reader(f, delimiter=delimiter)
        readers.append(reader)
        names, width, pending = csv_start(reader, header, p)
        if width < 2:
            raise DataError(f"{p}: expected at least 2 columns (features and a label), found {width}")
        label = _label_index(label_column, names, width, p)  # before the rows: a wrong name fails fast
        table = csv_table(reader, names, width, pending, p)
    x = np.delete(table, label, axis=1)
    return checked(x, labels_from_floats(table[:, label]), p)
