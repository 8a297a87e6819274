import re
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlstrat import ConfigError, InputError, MlstratWarning
from mlstrat.mismatch import synthesize

PIXELS = dict(feature_prefix="px_", image_shape=(1, 8, 8), value_range=(0, 16))


def _col(t, name):
    return np.array(t[name].to_pylist(), dtype=object)


@pytest.fixture(scope="module")
def liked(small_digits):
    return synthesize(
        small_digits, transforms=["blur", "noise"], like="app", folds=3, seed=0, **PIXELS
    )


def test_like_calibrates_towards_the_scenario_and_lowers_the_auc(liked):
    # the scenario degrades app images with blur sigma 0.9 and noise std 0.12
    assert liked.params["blur"]["sigma"] == pytest.approx(0.9, abs=0.3)
    assert liked.params["noise"]["std"] == pytest.approx(0.12, abs=0.04)
    c = liked.calibration
    assert c.distance_after < 0.3 * c.distance_before
    assert liked.auc_before.value > 0.95
    assert liked.auc_after.value < 0.75 and liked.auc_after.ci_high < liked.auc_before.ci_low


def test_new_rows_go_to_train_inherit_the_group_and_point_at_their_original(liked, small_digits):
    out = liked.table
    n = small_digits.num_rows
    web_train = (_col(small_digits, "split") == "train") & (_col(small_digits, "domain") == "web")
    assert liked.n_synthesized == liked.n_source_rows == web_train.sum()
    assert out.num_rows == n + liked.n_synthesized
    # the input rows come first, unchanged, without synthetic_of
    assert out.slice(0, n).drop_columns(["synthetic_of"]).equals(small_digits)
    assert out["synthetic_of"].slice(0, n).null_count == n
    new = out.slice(n)
    originals = {i: k for k, i in enumerate(small_digits["id"].to_pylist())}
    src = np.array([originals[i] for i in new["synthetic_of"].to_pylist()])
    assert (_col(new, "split") == "train").all()
    np.testing.assert_array_equal(_col(new, "group"), _col(small_digits, "group")[src])
    np.testing.assert_array_equal(_col(new, "label"), _col(small_digits, "label")[src])
    assert web_train[src].all()
    assert _col(new, "id").tolist() == [f"{i}~syn1" for i in new["synthetic_of"].to_pylist()]
    # no synthetic row shares a group with dev or test
    held_out = set(_col(small_digits, "group")[_col(small_digits, "split") != "train"])
    assert not set(_col(new, "group")) & held_out


def test_same_seed_same_rows_other_seed_other_rows(small_digits):
    kw = dict(transforms="noise,shift", params={"noise": {"std": 0.1}}, **PIXELS)
    a, b = synthesize(small_digits, seed=3, **kw), synthesize(small_digits, seed=3, **kw)
    c = synthesize(small_digits, seed=4, **kw)
    assert a.table.equals(b.table) and not a.table.equals(c.table)
    px = np.stack([a.table[f"px_{j}"].to_numpy() for j in range(64)], axis=1)
    assert px.min() >= 0 and px.max() <= 16


def test_rows_whose_group_leaks_are_not_synthesized_from(small_digits):
    groups = _col(small_digits, "group")
    split = _col(small_digits, "split")
    dev_group = groups[split == "dev"][0]
    web_train = np.flatnonzero((split == "train") & (_col(small_digits, "domain") == "web"))
    groups[web_train[:3]] = dev_group  # a broken manifest: the group straddles train and dev
    broken = small_digits.set_column(
        small_digits.schema.get_field_index("group"), "group", pa.array(groups.tolist())
    )
    train_in_dev_group = ((groups == dev_group) & (split == "train")).sum()
    with pytest.warns(
        MlstratWarning,
        match=rf"^{train_in_dev_group} train row\(s\) were not synthesized from: "
        r"their 'group' also appears in train_dev/dev/test",
    ):
        r = synthesize(broken, transforms=["blur"], **PIXELS)
    assert r.excluded_leaking == train_in_dev_group
    assert dev_group not in set(_col(r.table.slice(broken.num_rows), "group"))


def test_small_overlay_pool_warns_with_the_reuse_factor(small_digits):
    n = (_col(small_digits, "split") == "train").sum()
    pool = np.random.default_rng(0).uniform(0, 16, size=(2, 1, 8, 8))
    with pytest.warns(
        MlstratWarning,
        match=re.escape(
            f"small pool: the fog overlay pool (2 images) is reused {n / 2:.1f}x over the synthesized set "
            f"({n} images); a model can overfit the pool"
        ),
    ):
        r = synthesize(small_digits, transforms=["fog"], pool=pool, **PIXELS)
    assert r.pool.reuse_factor == pytest.approx(n / 2) and r.pool.dropped_rows == 0


def test_max_reuse_caps_the_synthesized_rows(small_digits):
    n = (_col(small_digits, "split") == "train").sum()
    pool = np.random.default_rng(0).uniform(0, 16, size=(4, 1, 8, 8))
    with pytest.warns(
        MlstratWarning,
        match=rf"^max_reuse=5: {n - 20} synthetic row\(s\) were not made so that "
        r"the pool of 4 images is reused at most 5x$",
    ):
        r = synthesize(small_digits, transforms=["fog"], pool=pool, max_reuse=5, **PIXELS)
    assert r.n_synthesized == 20 and r.pool.reuse_factor == 5 and r.pool.dropped_rows == n - 20
    assert not any("small pool" in w for w in r.warnings)


def test_copies_and_integer_ids(small_digits):
    t = small_digits.set_column(0, "id", pa.array(np.arange(small_digits.num_rows) * 10))
    r = synthesize(t, transforms=["rotate"], copies=2, **PIXELS)
    new = r.table.slice(t.num_rows)
    n_train = (_col(t, "split") == "train").sum()
    assert r.n_synthesized == 2 * n_train
    start = 10 * (t.num_rows - 1) + 1
    assert new["id"].to_pylist() == list(range(start, start + 2 * n_train))
    assert new["id"].type == pa.int64() and r.table["synthetic_of"].type == pa.int64()


def test_writes_the_output_and_never_overwrites_the_input(tmp_path, small_digits):
    manifest = tmp_path / "m.parquet"
    pq.write_table(small_digits, manifest)
    out = tmp_path / "out.parquet"
    r = synthesize(manifest, transforms="blur", output=out, **PIXELS)
    assert pq.read_table(out).num_rows == r.n_input_rows + r.n_synthesized
    with pytest.raises(InputError, match="already exists; pass --force"):
        synthesize(manifest, transforms="blur", output=out, **PIXELS)
    with pytest.raises(InputError, match="the output path is the input file"):
        synthesize(manifest, transforms="blur", output=manifest, force=True, **PIXELS)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            dict(transforms=["blur", "fogg"]),
            ConfigError,
            r"^unknown transform\(s\) 'fogg' \(did you mean 'fog'\?\); available for images: blur, noise, "
            r"brightness_contrast, shift, rotate, fog, hflip, vflip, crop$",
        ),
        (
            dict(transforms=["blur"], split="dev"),
            ConfigError,
            r"^split='dev': synthetic rows are appended to 'train' only",
        ),
        (
            dict(transforms=["blur"], like="phone"),
            InputError,
            r"^<pyarrow.Table>: column 'domain' has no rows with value 'phone'; values: app, web$",
        ),
        (
            dict(transforms=["blur"], params={"noise": {"std": 0.1}}),
            ConfigError,
            r"^parameters given for 'noise', which is not among the transforms \(blur\)$",
        ),
        (
            dict(transforms=["blur"], image_shape=None),
            ConfigError,
            r"^feature columns need image_shape",
        ),
        (
            dict(transforms=["blur"], features=["px_0"]),
            ConfigError,
            r"^give exactly one data source: features, feature_prefix, image_col or audio_col "
            r"\(got features and feature_prefix\)$",
        ),
    ],
)
def test_bad_input(small_digits, kwargs, error, message):
    kw = {**PIXELS, **kwargs}
    with pytest.raises(error, match=message):
        synthesize(small_digits, **kw)


def test_needs_a_split_column(small_digits):
    with pytest.raises(
        InputError, match=r"^<pyarrow.Table>: no 'split' column; run `mlstrat split` first"
    ):
        synthesize(small_digits.drop_columns(["split"]), transforms=["blur"], **PIXELS)


def test_refuses_an_already_synthesized_manifest(liked):
    with pytest.raises(InputError, match=r"already has a 'synthetic_of' column"):
        synthesize(liked.table, transforms=["blur"], **PIXELS)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    splits=st.lists(
        st.sampled_from(["train", "train", "train_dev", "dev", "test"]), min_size=2, max_size=30
    ),
    n_groups=st.integers(1, 8),
    seed=st.integers(0, 1000),
    copies=st.integers(1, 3),
)
def test_synthetic_rows_never_share_a_group_with_held_out_rows(splits, n_groups, seed, copies):
    rng = np.random.default_rng(seed)
    n = len(splits)
    groups = [f"g{k}" for k in rng.integers(0, n_groups, size=n)]  # may straddle splits on purpose
    t = pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "group": groups,
            "split": splits,
            **{f"px_{j}": rng.uniform(0, 1, size=n) for j in range(9)},
        }
    )
    held_out = {g for g, s in zip(groups, splits) if s != "train"}
    if not any(s == "train" and g not in held_out for g, s in zip(groups, splits)):
        with pytest.raises(
            InputError, match="no train row is left to synthesize from|no row has split"
        ):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                synthesize(
                    t, transforms=["noise"], feature_prefix="px_", image_shape=(1, 3, 3), seed=seed
                )
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = synthesize(
            t,
            transforms=["noise"],
            feature_prefix="px_",
            image_shape=(1, 3, 3),
            seed=seed,
            copies=copies,
        )
    new = r.table.slice(n)
    assert set(new["split"].to_pylist()) == {"train"}
    assert not set(new["group"].to_pylist()) & held_out
    assert r.table.slice(0, n).drop_columns(["synthetic_of"]).equals(t)  # originals untouched
    assert r.n_synthesized == copies * r.n_source_rows
