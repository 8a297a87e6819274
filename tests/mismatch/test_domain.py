import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlstrat import ConfigError, InputError, MlstratWarning
from mlstrat.mismatch import analyze_mismatch
from mlstrat.mismatch._adversarial import _permutation_drops

BLUR_NOISE = {
    "img_background",
    "img_sharpness",
    "img_gradient",
    "img_noise",
    "img_std",
    "img_contrast",
}
PIXELS = dict(feature_prefix="px_", image_shape=(1, 8, 8), value_range=(0, 16))


@pytest.fixture(scope="module")
def report(small_digits):
    return analyze_mismatch(
        small_digits,
        domain="domain",
        target="app",
        group="group",
        folds=3,
        importance_repeats=3,
        **PIXELS,
    )


def test_finds_the_web_app_difference_with_blur_noise_statistics_on_top(report):
    assert report.auc.value > 0.95 and report.auc.ci_low > 0.9
    assert report.strength == "strong"
    assert report.top_features[0].feature in BLUR_NOISE
    assert "blur" in report.top_features[0].hint or "noise" in report.top_features[0].hint
    assert report.feature_kind == "pixels+image_stats" and report.n_features == 71
    assert report.grouped_by == "group" and report.folds == 3
    top = report.top_features[0]
    assert (
        top.ks > 0.9 and top.mean_target < top.mean_source
    )  # app images have less clean background


def test_counts_and_json_keys(report, small_digits):
    dom = np.array(small_digits["domain"].to_pylist())
    assert (report.n_target, report.n_source) == ((dom == "app").sum(), (dom == "web").sum())
    d = report.to_dict()
    assert set(d) == {
        "domain",
        "target",
        "source",
        "n_target",
        "n_source",
        "sample",
        "features",
        "classifier",
        "auc",
        "strength",
        "top_features",
        "target_likeness",
        "errors",
        "warnings",
    }
    assert d["source"] == ["web"] and d["auc"]["method"] == "delong"


def test_weights_are_the_odds_of_the_out_of_fold_probability(report, small_digits):
    w = report.weights.to_pydict()
    assert len(w["id"]) == report.n_source
    assert set(w["domain"]) == {"web"}
    p = np.array(w["p_target"])
    np.testing.assert_allclose(w["target_likeness"], p / (1 - p))
    assert np.mean(w["weight"]) == pytest.approx(1.0)


def test_raw_pixels_alone_also_separate_the_domains(small_digits):
    r = analyze_mismatch(
        small_digits,
        domain="domain",
        target="app",
        feature_prefix="px_",
        folds=3,
        importance_repeats=2,
        top=5,
    )
    assert r.auc.value > 0.9
    assert r.feature_kind == "columns" and len(r.top_features) == 5


def test_no_mismatch_when_the_domain_is_a_coin_flip(small_digits):
    web = small_digits.filter(pa.array(np.array(small_digits["domain"].to_pylist()) == "web"))
    coin = np.where(np.random.default_rng(0).random(web.num_rows) < 0.5, "a", "b")
    r = analyze_mismatch(
        web.append_column("coin", pa.array(coin)),
        domain="coin",
        target="a",
        folds=3,
        importance_repeats=1,
        **PIXELS,
    )
    assert r.auc.ci_low < 0.5 < r.auc.ci_high
    assert r.strength == "none"


def test_source_values_restrict_the_comparison(small_digits):
    r = analyze_mismatch(
        small_digits,
        domain="split",
        target="dev",
        source="train",
        folds=3,
        importance_repeats=1,
        **PIXELS,
    )
    split = np.array(small_digits["split"].to_pylist())
    assert r.source == ("train",)
    assert (r.n_target, r.n_source) == ((split == "dev").sum(), (split == "train").sum())


def test_embedding_column(small_digits):
    X = np.stack([small_digits[f"px_{j}"].to_numpy() for j in range(64)], axis=1)
    t = pa.table(
        {
            "id": small_digits["id"],
            "domain": small_digits["domain"],
            "emb": pa.array(list(X[:, :8])),
        }
    )
    r = analyze_mismatch(
        t, domain="domain", target="app", embedding_col="emb", folds=3, importance_repeats=1
    )
    assert r.feature_kind == "embedding" and r.n_features == 8
    assert r.top_features[0].feature.startswith("emb_")


def test_permutation_drops_agree_with_sklearn():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance

    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
    with threadpool_limits(1):  # oversubscribed OpenMP is very slow on a busy machine
        model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X[:200], y[:200])
        ours = _permutation_drops(model, X[200:], y[200:], np.arange(3), 5, rng).mean(axis=1)
        ref = permutation_importance(
            model, X[200:], y[200:], scoring="roc_auc", n_repeats=5, random_state=0
        ).importances_mean
    np.testing.assert_allclose(ours, ref, atol=0.04)
    assert ours[0] > 0.2 and abs(ours[1]) < 0.03


def test_write_weights_never_overwrites_the_input(report, tmp_path, small_digits):
    manifest = tmp_path / "m.parquet"
    pq.write_table(small_digits, manifest)
    out = report.write_weights(tmp_path / "w.csv", inputs=[manifest])
    assert out.read_text().splitlines()[0] == "id,domain,p_target,target_likeness,weight"
    with pytest.raises(InputError, match="the output path is the input file"):
        report.write_weights(manifest, inputs=[manifest], force=True)


def test_misclassified_dev_rows_are_compared_with_train(small_digits):
    split = np.array(small_digits["split"].to_pylist())
    label = np.array(small_digits["label"].to_pylist())
    dom = np.array(small_digits["domain"].to_pylist())
    rng = np.random.default_rng(0)
    wrong = (split == "dev") & (
        rng.random(len(split)) < 0.5
    )  # the model fails on half the dev rows
    keep = np.isin(split, ["train", "dev"])
    preds = pa.table(
        {
            "id": small_digits["id"].filter(pa.array(keep)),
            "split": split[keep],
            "y_true": label[keep],
            "y_pred": np.where(wrong, (label + 1) % 10, label)[keep],
        }
    )
    r = analyze_mismatch(
        small_digits,
        domain="domain",
        target="app",
        predictions=preds,
        folds=3,
        importance_repeats=1,
        **PIXELS,
    )
    e = r.errors
    assert e.n_misclassified == wrong.sum() and e.n_train == (split == "train").sum()
    assert e.n_correct == ((split == "dev") & ~wrong).sum()
    assert e.auc_misclassified.value > 0.8  # dev is app, train mostly web
    assert e.top_features and e.auc_correct is not None
    assert (dom[split == "dev"] == "app").all()


def test_predictions_with_unknown_ids(small_digits):
    preds = pa.table(
        {"id": ["nope-1", "nope-2"], "split": ["dev", "train"], "y_true": [1, 2], "y_pred": [1, 3]}
    )
    with pytest.raises(
        InputError,
        match=r"^<pyarrow.Table>: 2 train/dev id\(s\) are not in the manifest "
        r"<pyarrow.Table>, e.g. nope-1, nope-2; the predictions must come "
        r"from this manifest$",
    ):
        analyze_mismatch(small_digits, domain="domain", target="app", predictions=preds, **PIXELS)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            dict(target="apps", feature_prefix="px_"),
            InputError,
            r"^<pyarrow.Table>: column 'domain' has no rows with value 'apps' \(did you mean 'app'\?\); values: app, web$",
        ),
        (
            dict(target="app", features=["px_0", "px_99"]),
            InputError,
            r"^<pyarrow.Table>: missing feature column\(s\) 'px_99' \(did you mean 'px_9'\?\); available columns: ",
        ),
        (
            dict(target="app", feature_prefix="pix_"),
            InputError,
            r"^<pyarrow.Table>: no column starts with 'pix_'",
        ),
        (
            dict(target="app"),
            ConfigError,
            r"^give exactly one feature source: features, feature_prefix, image_col or embedding_col \(got none\)$",
        ),
        (
            dict(target="app", feature_prefix="px_", image_col="path"),
            ConfigError,
            r"\(got feature_prefix and image_col\)$",
        ),
        (
            dict(target="app", feature_prefix="px_", image_shape=(1, 8, 7)),
            ConfigError,
            r"^image_shape 1,8,7 holds 56 pixels but 64 feature column\(s\) were given",
        ),
        (
            dict(target="app", features=["domain"]),
            InputError,
            r"^<pyarrow.Table>: feature column 'domain' has type string; features must be numeric",
        ),
        (
            dict(target="app", source="mobile", feature_prefix="px_"),
            InputError,
            r"^<pyarrow.Table>: column 'domain' has no rows with source value 'mobile'",
        ),
        (
            dict(target="app", feature_prefix="px_", domain="origin"),
            InputError,
            r"^<pyarrow.Table>: missing domain column 'origin'",
        ),
    ],
)
def test_bad_input(small_digits, kwargs, error, message):
    kwargs.setdefault("domain", "domain")
    with pytest.raises(error, match=message):
        analyze_mismatch(small_digits, **kwargs)


def _write_pngs(folder, n, blur, seed):
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    names = []
    for i in range(n):
        arr = np.zeros((24, 24), dtype=np.uint8)
        size = int(rng.integers(5, 11))
        r, c = rng.integers(2, 22 - size, size=2)
        arr[r : r + size, c : c + size] = int(rng.integers(150, 256))
        img = Image.fromarray(arr)
        if blur:
            img = img.filter(ImageFilter.GaussianBlur(1.5))
        name = f"{'app' if blur else 'web'}_{i}.png"
        img.save(folder / name)
        names.append(name)
    return names


def test_image_files_relative_to_the_manifest(tmp_path):
    (tmp_path / "img").mkdir()
    web = _write_pngs(tmp_path / "img", 20, False, 0)
    app = _write_pngs(tmp_path / "img", 20, True, 1)
    manifest = tmp_path / "m.csv"
    t = pa.table(
        {
            "id": [f"r{i}" for i in range(40)],
            "path": [f"img/{n}" for n in web + app],
            "domain": ["web"] * 20 + ["app"] * 20,
        }
    )
    import pyarrow.csv as pcsv

    pcsv.write_csv(t, manifest)
    r = analyze_mismatch(
        manifest, domain="domain", target="app", image_col="path", folds=3, importance_repeats=2
    )
    assert r.feature_kind == "image_files" and r.auc.value > 0.9
    assert r.top_features[0].feature in BLUR_NOISE


def test_missing_image_files_are_counted(tmp_path):
    t = pa.table(
        {
            "id": list("abcde"),
            "path": [f"gone/{i}.png" for i in range(5)],
            "domain": ["web", "web", "app", "app", "web"],
        }
    )
    with pytest.raises(
        InputError,
        match=r"^<pyarrow.Table>: 5 of 5 path\(s\) in column 'path' do not exist, "
        r"e.g. gone/0.png, gone/1.png, gone/2.png; fix the paths or the column$",
    ):
        analyze_mismatch(t, domain="domain", target="app", image_col="path")


def test_same_seed_same_report(small_digits):
    kw = dict(domain="domain", target="app", folds=3, importance_repeats=2, seed=5, **PIXELS)
    a, b = analyze_mismatch(small_digits, **kw), analyze_mismatch(small_digits, **kw)
    assert a.to_dict() == b.to_dict()
    assert a.weights.equals(b.weights)


def test_two_misclassified_dev_rows_warn_that_the_auc_means_little(small_digits):
    split = np.array(small_digits["split"].to_pylist())
    label = np.array(small_digits["label"].to_pylist())
    dev = np.flatnonzero(split == "dev")
    wrong = np.zeros(len(split), dtype=bool)
    wrong[dev[:2]] = True  # hand count: exactly 2 misclassified dev rows
    keep = np.isin(split, ["train", "dev"])
    preds = pa.table({"id": small_digits["id"].filter(pa.array(keep)), "split": split[keep],
                      "y_true": label[keep], "y_pred": np.where(wrong, (label + 1) % 10, label)[keep]})
    with pytest.warns(MlstratWarning, match="only 2 misclassified dev rows"):
        r = analyze_mismatch(small_digits, domain="domain", target="app", predictions=preds, folds=3,
                             importance_repeats=1, **PIXELS)
    auc = r.errors.auc_misclassified
    assert r.errors.n_misclassified == 2
    expected = (f"only 2 misclassified dev rows: the AUC {auc.value:.2f} (95% CI {auc.ci_low:.2f}-"
                f"{auc.ci_high:.2f}) means little with fewer than 30 rows on a side")
    assert any(w.startswith(expected) for w in r.warnings)
    # the main domain classifier has hundreds of rows per side: no such note for it
    assert not any("'app' rows" in w or "source rows" in w for w in r.warnings)
