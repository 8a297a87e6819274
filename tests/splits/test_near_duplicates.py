"""Near-duplicate leakage: planted near-duplicates are found, distinct items are not, and the counts
per pair of splits equal a brute-force all-pairs computation."""

import io
import re
import subprocess
import sys
from itertools import combinations

import numpy as np
import pyarrow as pa
import pytest

from mlstrat._exceptions import ConfigError, InputError
from mlstrat.splits import find_near_duplicates
from mlstrat.splits._near_duplicates import HAMMING_BITS, TEXT_JACCARD

from .conftest import run_split

SPLITS = ("train", "train_dev", "dev", "test")


# -- an independent brute force ------------------------------------------------------------------

def _shingle_set(text, k=5):
    """5-character shingles of the text lower-cased, with every run of non-alphanumerics one space."""
    norm = " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())
    return {norm} if len(norm) <= k else {norm[i:i + k] for i in range(len(norm) - k + 1)}


def _brute_force(splits, similar):
    """(first, second) -> (rows of second with a match in first, matching pairs), over all pairs of rows."""
    n = len(splits)
    match = {(i, j) for i, j in combinations(range(n), 2) if similar(i, j)}
    match |= {(j, i) for i, j in match}
    out = {}
    present = [s for s in SPLITS if s in splits]
    for first, second in [*combinations(present, 2), ("train", "train")]:
        rows = sum(1 for j in range(n) if splits[j] == second
                   and any(splits[i] == first and (i, j) in match for i in range(n)))
        pairs = sum(1 for i, j in match if i < j and {splits[i], splits[j]} == {first, second}
                    and (first != second or splits[i] == first))
        out[(first, second)] = (rows, pairs)
    return out


def _counts(finding):
    return {(c["splits"][0], c["splits"][1]): (c["rows"], c["pairs"]) for c in finding["counts"]}


# -- text ----------------------------------------------------------------------------------------

def test_a_caption_with_a_trailing_period_in_train_and_test_is_leakage():
    table = pa.table({"id": ["a", "b", "c"], "split": ["train", "test", "dev"],
                      "caption": ["A brown dog runs on the beach", "A brown dog runs on the beach.",
                                  "Two cats sleep on a red sofa"]})
    found = find_near_duplicates(table, text="caption")
    assert found.leakage and not found.in_train
    (finding,) = found.to_dict()["findings"]
    assert _counts(finding)[("train", "test")] == (1, 1)
    (pair,) = [c for c in finding["counts"] if c["splits"] == ["train", "test"]]
    assert pair["examples"] == [{"ids": ["a", "b"], "similarity": 1.0}]


def test_split_reports_the_trailing_period_as_leakage():
    ids = [str(i) for i in range(60)]
    captions = [f"photo {i}: a {['red', 'blue', 'green'][i % 3]} kite number {i * 37 % 101} over hill {i}"
                for i in range(60)]
    # the same caption plus a trailing "." under every id: whichever splits they land in, some cross
    table = pa.table({"id": ids + [f"{i}x" for i in ids], "caption": captions + [c + "." for c in captions]})
    exact = run_split(table, content="caption")
    assert not exact.leakage  # equal content alone misses them
    near = run_split(table, content="caption", near_duplicates="caption")
    leak = near.summary["checks"]["leakage"]
    assert near.leakage and leak["near_duplicates_across_splits"] > 0
    assert any(e.startswith("near-duplicate text caption:") for e in leak["examples"])
    rows = near.table.select("id", "split").to_pyarrow().to_pylist()
    split_of = {r["id"]: r["split"] for r in rows}
    crossing = sum(1 for i in ids if split_of[i] != split_of[f"{i}x"])
    assert leak["near_duplicates_across_splits"] == crossing > 0


def _edit(text, rng):
    """One character replaced, inside a long text (Jaccard about 0.9)."""
    i = int(rng.integers(10, len(text) - 10))
    return text[:i] + ("z" if text[i] != "z" else "y") + text[i + 1:]


def _planted_texts(seed=0, n=120):
    rng = np.random.default_rng(seed)
    words = [f"w{k}" for k in range(400)]
    texts = [" ".join(rng.choice(words, size=14)) for _ in range(n)]
    planted = []
    for k in range(0, 30, 3):
        planted += [texts[k].upper(), texts[k + 1] + " !", _edit(texts[k + 2], rng)]
    all_texts = texts + planted
    splits = [SPLITS[i] for i in rng.integers(0, 4, size=len(all_texts))]
    return all_texts, splits


def test_text_counts_equal_brute_force_jaccard():
    texts, splits = _planted_texts()
    table = pa.table({"id": [f"r{i}" for i in range(len(texts))], "split": splits, "text": texts})
    (finding,) = find_near_duplicates(table, text="text").to_dict()["findings"]
    sets = [_shingle_set(t) for t in texts]
    expected = _brute_force(splits, lambda i, j: len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= TEXT_JACCARD)
    assert _counts(finding) == expected
    total_pairs = sum(p for _r, p in expected.values())
    within = {s: 0 for s in ("train_dev", "dev", "test")}  # pairs inside these splits are not tallied
    for i, j in combinations(range(len(texts)), 2):
        if splits[i] == splits[j] in within and len(sets[i] & sets[j]) / len(sets[i] | sets[j]) >= TEXT_JACCARD:
            within[splits[i]] += 1
    assert total_pairs + sum(within.values()) == 30  # every planted copy found, nothing else


def test_distinct_texts_are_not_near_duplicates():
    texts, splits = _planted_texts(n=120)
    table = pa.table({"id": list(range(120)), "split": splits[:120], "text": texts[:120]})
    found = find_near_duplicates(table, text="text")
    assert not found.leakage and not found.in_train
    assert all(c["pairs"] == 0 for c in found.to_dict()["findings"][0]["counts"])


def test_examples_name_the_closest_pairs_with_their_similarity():
    base = "the quick brown fox jumps over the lazy dog near the river bank"
    edited = base.replace("lazy", "lazi")
    table = pa.table({"id": ["t1", "d1"], "split": ["train", "dev"], "text": [base, edited]})
    (finding,) = find_near_duplicates(table, text="text").to_dict()["findings"]
    (pair,) = [c for c in finding["counts"] if c["splits"] == ["train", "dev"]]
    a, b = _shingle_set(base), _shingle_set(edited)
    assert pair["examples"] == [{"ids": ["t1", "d1"], "similarity": round(len(a & b) / len(a | b), 4)}]


# -- images --------------------------------------------------------------------------------------

def _shapes(seed):
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (96, 96), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y = rng.integers(0, 70, 2)
        w, h = rng.integers(15, 50, 2)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([int(x), int(y), int(x + w), int(y + h)], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def _jpeg(image):
    from PIL import Image

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _noisy(image):
    from PIL import Image

    pixels = np.asarray(image).astype(float) + np.random.default_rng(1).normal(0, 8, (96, 96, 3))
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


@pytest.fixture
def image_manifest(tmp_path):
    """12 distinct images, and a re-encoded, a noisy and a cropped copy of three of them."""
    rows = []
    for seed in range(12):
        _shapes(seed).save(tmp_path / f"img{seed}.png")
        rows.append((f"img{seed}", f"img{seed}.png"))
    variants = {"jpeg": _jpeg, "noise": _noisy, "crop": lambda im: im.crop((2, 2, 94, 94))}
    for seed, (name, change) in enumerate(variants.items()):
        change(_shapes(seed)).save(tmp_path / f"{name}{seed}.png")
        rows.append((f"{name}{seed}", f"{name}{seed}.png"))
    splits = ["train"] * 12 + ["test", "dev", "train"]
    (tmp_path / "m.csv").write_text("id,split,path\n" + "".join(f"{i},{s},{p}\n" for (i, p), s in zip(rows, splits)))
    return tmp_path / "m.csv", rows, splits


def test_image_counts_equal_brute_force_hamming(image_manifest):
    import imagehash
    from PIL import Image

    manifest, rows, splits = image_manifest
    found = find_near_duplicates(manifest, images="path")
    (finding,) = found.to_dict()["findings"]
    hashes = [imagehash.phash(Image.open(manifest.parent / p).convert("L")) for _i, p in rows]
    expected = _brute_force(splits, lambda i, j: hashes[i] - hashes[j] <= HAMMING_BITS)
    assert _counts(finding) == expected
    # the re-encoded copy (test), the noisy copy (dev) and the crop (train) of train images
    assert expected[("train", "test")] == (1, 1) and expected[("train", "dev")] == (1, 1)
    assert expected[("train", "train")] == (2, 1)
    assert found.leakage and found.in_train


def test_images_relative_to_another_directory_need_image_root(image_manifest, tmp_path_factory):
    manifest, _rows, _splits = image_manifest
    elsewhere = tmp_path_factory.mktemp("other") / "m.csv"
    elsewhere.write_text(manifest.read_text())
    with pytest.raises(InputError, match=r"m.csv: row id 'img0': cannot read image '.*img0.png' of column 'path' "
                                         r"\(no such file\); fix the path, or pass --image-root DIR"):
        find_near_duplicates(elsewhere, images="path")
    assert find_near_duplicates(elsewhere, images="path", image_root=manifest.parent).leakage


def test_an_unreadable_image_is_one_input_error(tmp_path):
    (tmp_path / "bad.png").write_text("not an image")
    (tmp_path / "m.csv").write_text("id,split,path\n1,train,bad.png\n")
    with pytest.raises(InputError, match=r"row id '1': cannot read image '.*bad.png' of column 'path' "
                                         r"\(cannot identify image file"):
        find_near_duplicates(tmp_path / "m.csv", images="path")


# -- pixel columns -------------------------------------------------------------------------------

def test_pixel_rows_with_noise_are_found_and_counts_equal_brute_force():
    import imagehash
    from PIL import Image
    from sklearn.datasets import load_digits

    x = load_digits().data[:80]
    rng = np.random.default_rng(0)
    copies = (x[:10] + rng.normal(0, 0.5, size=(10, 64))).clip(0, 16)
    pixels = np.vstack([x, copies])
    splits = ["train"] * 80 + ["test"] * 5 + ["dev"] * 5
    table = pa.table({"id": list(range(90)), "split": splits, **{f"px_{k}": pixels[:, k] for k in range(64)}})
    (finding,) = find_near_duplicates(table, pixels="px_*").to_dict()["findings"]
    assert finding["columns"] == [f"px_{k}" for k in range(64)]

    def phash(row):
        grey = ((row - row.min()) / (row.max() - row.min()) * 255).round().astype(np.uint8).reshape(8, 8)
        return imagehash.phash(Image.fromarray(grey, mode="L"))

    hashes = [phash(row) for row in pixels]
    expected = _brute_force(splits, lambda i, j: hashes[i] - hashes[j] <= HAMMING_BITS)
    assert _counts(finding) == expected
    assert expected[("train", "test")][0] == 5 and expected[("train", "dev")][0] == 5  # every noisy copy


def test_pixel_columns_that_are_not_square_are_refused():
    table = pa.table({"id": [1], "split": ["train"], "px_0": [1.0], "px_1": [2.0], "px_2": [3.0]})
    with pytest.raises(InputError, match=r"3 pixel column\(s\) \(px_0 \.\.\.\) do not make a square image"):
        find_near_duplicates(table, pixels="px_*")
    with pytest.raises(InputError, match=r"pixels: no column starts with 'q'"):
        find_near_duplicates(table, pixels="q*")


# -- numeric rows --------------------------------------------------------------------------------

def test_numeric_rows_rounded_differently_are_found_and_counts_equal_brute_force():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(60, 3)) * [1.0, 100.0, 0.01]
    copies = base[:8] * (1 + 1e-9)  # the same numbers written with other rounding
    values = np.vstack([base, copies])
    splits = [SPLITS[i] for i in rng.integers(0, 4, size=len(values))]
    table = pa.table({"id": list(range(len(values))), "split": splits,
                      "a": values[:, 0], "b": values[:, 1], "c": values[:, 2]})
    (finding,) = find_near_duplicates(table, numeric="a,b,c").to_dict()["findings"]
    expected = _brute_force(splits, lambda i, j: np.allclose(values[i], values[j], rtol=1e-7, atol=0))
    assert _counts(finding) == expected
    assert sum(p for _r, p in expected.values()) + sum(
        1 for i in range(8) if splits[i] == splits[60 + i] != "train") == 8


def _awkward_numeric_table():
    """Exact ties at the sixth digit, values a hair either side, NaN, nulls, -0.0, infinities,
    negative numbers and integers, spread over the splits with copies inside and across them."""
    a = [1234565.0, 1234575.0, 123456.5, -1234565.0, 2.675, 1.0000005, float("nan"), None, -0.0, 0.0,
         float("inf"), -float("inf"), -7.5e-12, -7.50000001e-12, 1e300, None, 42.0, 1234565.0, 123456.49999]
    b = [1, 2, 3, -4, 5, 6, 7, None, 0, 0, 8, 9, -10, -10, 11, None, 12, 1, 3]
    c = [0.5, 0.5, -0.5, -0.5, 0.25, 0.25, float("nan"), None, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, None, 5.0, 0.5, -0.5]
    rows = [(x, y, z) for x, y, z in zip(a, b, c)]
    rows = rows + [rows[i] for i in (0, 2, 4, 6, 8, 9, 12, 16, 16)]
    splits = [SPLITS[(7 * i) % 4] for i in range(len(rows))]
    return pa.table({"id": [f"r{i}" for i in range(len(rows))], "split": splits,
                     "a": pa.array([r[0] for r in rows], pa.float64()), "b": pa.array([r[1] for r in rows], pa.int64()),
                     "c": pa.array([r[2] for r in rows], pa.float64())})


@pytest.mark.parametrize("digits", [6, 2, 1])
def test_numeric_rows_rounded_in_the_engine_equal_rounding_in_the_process(monkeypatch, digits):
    from mlstrat.splits import _near_duplicates

    table = _awkward_numeric_table()
    in_engine = find_near_duplicates(table, numeric="a,b,c", digits=digits).to_dict()
    monkeypatch.setattr(_near_duplicates, "_rounds_in_engine", lambda *args: False)
    in_process = find_near_duplicates(table, numeric="a,b,c", digits=digits).to_dict()
    assert in_engine == in_process
    assert in_engine["findings"][0]["leaked_rows"] > 0


def test_the_engine_rounds_exact_ties_to_even_like_python():
    # 1234565 is exactly halfway at 6 digits: to even (1234560), not away from zero (1234570)
    table = pa.table({"id": [1, 2, 3], "split": ["train", "test", "dev"], "x": [1234565.0, 1234560.0, 1234570.0]})
    (finding,) = find_near_duplicates(table, numeric="x").to_dict()["findings"]
    assert _counts(finding)[("train", "test")] == (1, 1)
    assert _counts(finding)[("train", "dev")] == (0, 0)


@pytest.mark.spark
def test_numeric_rows_on_spark_round_in_the_process_and_equal_duckdb(spark):
    table = _awkward_numeric_table()
    assert find_near_duplicates(table, numeric="a,b,c", con=spark).to_dict() == \
        find_near_duplicates(table, numeric="a,b,c").to_dict()


# -- the counts themselves -------------------------------------------------------------------------

def test_rows_count_each_row_once_and_pairs_count_every_pair():
    # three copies in train, two in test: 2 test rows leak, through 3 x 2 = 6 pairs; inside train 3 rows, 3 pairs
    table = pa.table({"id": list("abcde"), "split": ["train"] * 3 + ["test"] * 2, "text": ["same words here"] * 5})
    (finding,) = find_near_duplicates(table, text="text").to_dict()["findings"]
    assert _counts(finding) == {("train", "test"): (2, 6), ("train", "train"): (3, 3)}
    assert finding["leaked_rows"] == 2


def test_null_and_empty_content_is_not_compared():
    table = pa.table({"id": [1, 2, 3], "split": ["train", "test", "dev"], "text": [None, None, ""]})
    (finding,) = find_near_duplicates(table, text="text").to_dict()["findings"]
    assert finding["compared"] == 0 and finding["leaked_rows"] == 0


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({}, ConfigError, "no content to compare: name its columns with text, images, pixels or numeric"),
    ({"text": "caption"}, InputError, r"missing text column 'caption'"),
    ({"text": "t", "split_col": "fold"}, InputError, r"missing split column 'fold'"),
    ({"text": "t", "jaccard": 1.5}, ConfigError, r"jaccard: 1.5 must lie in \(0, 1\]"),
    ({"text": "t", "hamming": 40}, ConfigError, r"hamming: 40 must be a whole number of bits from 0 to 31"),
    ({"numeric": "t"}, InputError, r"row id '1': numeric columns t hold a value that is not a number"),
])
def test_bad_input_is_one_clear_error(kwargs, error, message):
    table = pa.table({"id": [1, 2], "split": ["train", "dev"], "t": ["x", "y"]})
    with pytest.raises(error, match=message):
        find_near_duplicates(table, **kwargs)


def test_an_unknown_split_value_names_the_column_flag():
    table = pa.table({"id": [1], "fold": ["holdout"], "t": ["x"]})
    with pytest.raises(InputError, match=r"split column holds 'holdout'; expected train, train_dev, dev, test"):
        find_near_duplicates(table, text="t", split_col="fold")


def test_importing_mlstrat_loads_neither_datasketch_nor_imagehash():
    code = ("import sys, mlstrat, mlstrat.splits; "
            "print(sorted(m for m in ('datasketch', 'imagehash', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_split_reads_a_column_of_image_paths_as_images(image_manifest, monkeypatch):
    import imagehash
    from PIL import Image

    manifest, rows, _splits = image_manifest
    monkeypatch.chdir(manifest.parent)  # an in-memory table: relative paths start from the working directory
    table = pa.table({"id": [i for i, _p in rows], "path": [p for _i, p in rows]})
    result = run_split(table, near_duplicates="path", dev_size=5, test_size=5)
    split_of = {r["id"]: r["split"] for r in result.table.select("id", "split").to_pyarrow().to_pylist()}
    splits = [split_of[i] for i, _p in rows]
    hashes = [imagehash.phash(Image.open(p).convert("L")) for _i, p in rows]
    expected = _brute_force(splits, lambda i, j: hashes[i] - hashes[j] <= HAMMING_BITS)
    crossing = sum(r for (a, b), (r, _p) in expected.items() if a != b)
    leak = result.summary["checks"]["leakage"]
    assert leak["near_duplicates_across_splits"] == crossing > 0 and result.leakage
    assert leak["examples"] and all(e.startswith("near-duplicate image path:") for e in leak["examples"])


def test_notebook_display_shows_each_pair_of_splits_escaped():
    table = pa.table({"id": ["<b>a</b>", "b"], "split": ["train", "test"], "text": ["a red kite", "A red kite!"]})
    found = find_near_duplicates(table, text="text")
    html = found._repr_html_()
    assert "<td>train - test</td><td>1</td><td>1</td><td>&lt;b&gt;a&lt;/b&gt; ~ b (1)</td>" in html
    assert "<b>a</b>" not in html and "near-duplicate leakage found" in html
    assert repr(found) == "<NearDuplicates 2 rows: 1 with a near-duplicate in another split>"
