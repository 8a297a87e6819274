import inspect

import mlstrat
import mlstrat.nn as nn_pkg


def test_all_lists_exactly_the_public_names():
    public = {n for n, v in vars(nn_pkg).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert set(nn_pkg.__all__) == public


def test_package_exposes_the_trainer_lazily():
    assert mlstrat.TrainConfig is nn_pkg.TrainConfig
    assert mlstrat.train is nn_pkg.train
    assert mlstrat.predict is nn_pkg.predict
    assert mlstrat.gradcheck is nn_pkg.gradcheck


def test_signatures():
    assert list(inspect.signature(nn_pkg.train).parameters) == ["config", "run_dir", "progress", "con", "force",
                                                              "test", "store", "record", "human", "note", "resume"]
    params = inspect.signature(nn_pkg.gradcheck).parameters
    assert params["eps"].default == 1e-7 and params["mode"].default == "full"
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in ("eps", "mode", "l2"))
