import numpy as np

from mlstrat.scenarios import build_digits_manifest


def test_digits_manifest_shape_and_domains():
    t = build_digits_manifest()
    assert t.num_rows == 1797
    assert t.column_names[:4] == ["id", "label", "domain", "group"]
    assert len([c for c in t.column_names if c.startswith("px_")]) == 64
    domain = np.array(t["domain"].to_pylist())
    share = (domain == "app").mean()
    assert 0.15 < share < 0.45  # app is the minority
    groups = t.group_by("group").aggregate([("domain", "count_distinct")])
    assert max(groups["domain_count_distinct"].to_pylist()) == 1  # a writer uses one channel


def test_app_images_are_degraded_and_deterministic():
    a, b = build_digits_manifest(seed=3), build_digits_manifest(seed=3)
    assert a.equals(b)
    px = np.stack([a[f"px_{j}"].to_numpy() for j in range(64)], axis=1)
    app = np.array(a["domain"].to_pylist()) == "app"
    # blur spreads ink: fewer exact-zero pixels on app images
    assert (px[app] == 0).mean() < (px[~app] == 0).mean()
    assert px.min() >= 0 and px.max() <= 16
