"""The basic recipe (docs/method.md §3): which actions address which component."""

from __future__ import annotations

from collections.abc import Sequence

from mlstrat.diagnosis._results import Action

__all__ = ["RECIPE", "ACTIONS", "MODEL_FAMILIES", "FAMILY_ACTIONS", "MEASURE_HUMAN_LEVEL",
           "actions_for", "carve_train_dev", "parse_model_family",
           "rebuild_dev_test"]

#: problem -> action ids, most direct first.
RECIPE: dict[str, tuple[str, ...]] = {
    "avoidable_bias": ("bigger_network", "train_longer", "better_optimizer", "architecture_search"),
    "variance": ("more_data", "regularization", "data_augmentation", "architecture_search"),
    "data_mismatch": (
        "error_analysis",
        "collect_target_data",
        "add_target_data_to_train",
        "data_synthesis",
    ),
    "dev_overfitting": ("bigger_dev_set",),
}

#: action id -> (title, why).
ACTIONS: dict[str, tuple[str, str]] = {
    "bigger_network": (
        "Train a bigger network (more layers or units)",
        "The model does not fit the training set as well as humans do; more capacity lowers "
        "training error.",
    ),
    "train_longer": (
        "Train longer",
        "Training error is still above human level; more iterations may lower it before anything "
        "else changes.",
    ),
    "better_optimizer": (
        "Use a better optimizer (momentum, RMSprop, Adam) or tune the learning rate",
        "A better optimization of the training cost lowers training error.",
    ),
    "architecture_search": (
        "Search architectures and hyperparameters",
        "A different architecture can both fit train better and generalize better.",
    ),
    "more_data": (
        "Get more training data",
        "The model fits train but not unseen data of the same distribution; more data narrows that "
        "gap.",
    ),
    "regularization": (
        "Add regularization (L2, dropout)",
        "Regularization trades a little training fit for better generalization to unseen data.",
    ),
    "data_augmentation": (
        "Augment the training data (flips, shifts, noise, ...)",
        "Augmentation is cheap extra training data; it reduces variance.",
    ),
    "error_analysis": (
        "Do error analysis on dev mistakes (mlstrat errors sample)",
        "Looking at ~100 dev mistakes shows how dev data differs from training data and which fix "
        "is worth it.",
    ),
    "collect_target_data": (
        "Collect more data like the dev/test (target) distribution",
        "The model does well on its training distribution but not on the target one.",
    ),
    "add_target_data_to_train": (
        "Add target-distribution data to the training set",
        "Training on some target data makes training data more like dev/test.",
    ),
    "data_synthesis": (
        "Synthesize target-like training data (mlstrat synth)",
        "Artificial data (e.g. clean audio + car noise, images + blur) makes train look like dev; "
        "beware synthesizing from a small pool, which the model can overfit.",
    ),
    "bigger_dev_set": (
        "Get a bigger dev set, and keep the test set untouched while tuning",
        "Dev error is lower than test error: tuning has overfit the dev set.",
    ),
}


#: The next step when no component is a problem but avoidable bias is undetermined.
MEASURE_HUMAN_LEVEL = Action(
    "measure_human_level",
    "Measure or look up the human-level error (--human, or --human-labels)",
    "Without a human level the training error cannot be split into Bayes error and avoidable "
    "bias; that figure settles whether bias is the problem.",
    (),
)


def carve_train_dev(target: str | None = None, *, domain: str = "domain") -> Action:
    """The lead action when train and dev differ and no train-dev split separates variance
    from data mismatch, with the ``mlstrat split`` command that carves one (``target``: the
    dev domain when known)."""
    import shlex

    target_text = shlex.quote(target) if target is not None else "TARGET"
    command = (f"mlstrat split MANIFEST --domain {shlex.quote(domain)} --target {target_text} "
               "--train-dev auto")
    return Action(
        "carve_train_dev",
        f"Carve a train-dev split from the training distribution: {command}",
        "Train and dev come from different distributions: the dev - train gap is variance, data "
        "mismatch or both. A train-dev split (training distribution, not trained on) tells them "
        "apart; diagnose again with it.",
        ("variance", "data_mismatch"),
    )


def rebuild_dev_test(target: str | None = None, *, domain: str = "domain") -> Action:
    """The action when dev and test differ: draw both again from the one target distribution."""
    import shlex

    target_text = shlex.quote(target) if target is not None else "TARGET"
    command = f"mlstrat split MANIFEST --domain {shlex.quote(domain)} --target {target_text}"
    return Action(
        "rebuild_dev_test",
        f"Rebuild dev and test from one distribution: {command}",
        "Dev and test differ, so a model tuned on dev aims at the wrong target and the test - dev "
        "gap says nothing about overfitting dev; draw both from the distribution you will deploy on.",
        ("dev_overfitting",),
    )


#: The model families the recipe is worded for (``ACTIONS`` is the neural-network wording).
MODEL_FAMILIES: tuple[str, ...] = ("neural_network", "gradient_boosting", "linear", "other")

#: family -> action id -> (title, why), replacing the neural-network wording of ``ACTIONS``.
#: The ids stay the same for every family, so scripts keyed on them keep working.
FAMILY_ACTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "gradient_boosting": {
        "bigger_network": (
            "Grow more or deeper trees, lower min_samples_leaf",
            "The ensemble does not fit the training set as well as humans do; more trees, larger "
            "max_depth or max_leaf_nodes and smaller leaves lower training error.",
        ),
        "train_longer": (
            "Boost for more rounds",
            "Training error is still above human level; more rounds (n_estimators, max_iter, a "
            "looser early stopping) keep lowering it.",
        ),
        "better_optimizer": (
            "Tune the learning rate with the number of rounds",
            "A smaller learning rate with more rounds usually fits better; too small a budget "
            "stops boosting early.",
        ),
        "architecture_search": (
            "Search tree hyperparameters at random",
            "Depth, leaves, learning rate and subsampling set both how well the trees fit train "
            "and how well they generalize.",
        ),
        "regularization": (
            "Regularize the trees (shallower, bigger leaves, subsampling)",
            "Shallower trees, a higher min_samples_leaf, L2 on leaf values and row/feature "
            "subsampling trade a little training fit for better generalization.",
        ),
        "data_augmentation": (
            "Add training rows (augmentation rarely fits tables)",
            "Trees generalize from rows they have seen; more of them reduces variance.",
        ),
    },
    "linear": {
        "bigger_network": (
            "Richer features, less regularization",
            "A linear model cannot fit what its features cannot express: interactions, splines "
            "or binned features, and a larger C / smaller alpha, lower training error.",
        ),
        "train_longer": (
            "Fit to convergence (more iterations, lower tol)",
            "An unconverged solver leaves training error above what the model can reach.",
        ),
        "better_optimizer": (
            "Scale the features; use a solver suited to the data",
            "Badly scaled features slow solvers down and stop them short of the optimum.",
        ),
        "architecture_search": (
            "Try a more flexible model family (boosted trees, a network)",
            "When richer features are not enough, a non-linear model may fit and generalize "
            "better.",
        ),
        "regularization": (
            "More regularization (smaller C, larger alpha)",
            "A stronger penalty trades a little training fit for better generalization.",
        ),
        "data_augmentation": (
            "Add training rows",
            "More examples pin the coefficients down and reduce variance.",
        ),
    },
    "other": {
        "bigger_network": (
            "Increase the model's capacity",
            "The model does not fit the training set as well as humans do; more capacity lowers "
            "training error.",
        ),
        "train_longer": (
            "Fit longer or to convergence",
            "Training error is still above human level; more fitting may lower it.",
        ),
        "better_optimizer": (
            "Improve the fitting procedure",
            "A better optimization of the training objective lowers training error.",
        ),
        "architecture_search": (
            "Search model families and hyperparameters at random",
            "A different model can both fit train better and generalize better.",
        ),
        "regularization": (
            "Regularize (constrain the model)",
            "Regularization trades a little training fit for better generalization.",
        ),
    },
}


def parse_model_family(family: str | None) -> str:
    """``"gbt"``, ``"boosting"``, ``"nn"``, ``"linear"``... -> one of :data:`MODEL_FAMILIES`."""
    from mlstrat._exceptions import ConfigError
    from mlstrat._numbers import did_you_mean

    if family is None:
        return "neural_network"
    key = family.strip().lower().replace("-", "_").replace(" ", "_")
    aliases = {"nn": "neural_network", "network": "neural_network", "mlp": "neural_network",
               "gbt": "gradient_boosting", "gbm": "gradient_boosting", "boosting": "gradient_boosting",
               "gradient_boosted_trees": "gradient_boosting", "trees": "gradient_boosting",
               "xgboost": "gradient_boosting", "lightgbm": "gradient_boosting"}
    key = aliases.get(key, key)
    if key not in MODEL_FAMILIES:
        raise ConfigError(
            f"--model-family: unknown family {family!r}{did_you_mean(key, MODEL_FAMILIES)}; "
            f"choose from {', '.join(MODEL_FAMILIES)}"
        )
    return key


def _wording(action_id: str, family: str) -> tuple[str, str]:
    return FAMILY_ACTIONS.get(family, {}).get(action_id, ACTIONS[action_id])


def actions_for(problems: Sequence[str], *, model_family: str = "neural_network"
                ) -> tuple[Action, ...]:
    """Recipe entries for ``problems`` (ordered as given), each action once.

    ``model_family`` words the actions for the model (``neural_network``,
    ``gradient_boosting``, ``linear``, ``other``); the ids do not change.

    An action shared by two found problems (``architecture_search``) lists both in
    ``addresses``; no action is returned for a problem that was not found. With no problem,
    the only action is ``error_analysis`` on the remaining mistakes.
    """
    if not problems:
        return (
            Action(
                "error_analysis",
                "Do error analysis on the remaining dev mistakes (mlstrat errors sample)",
                "No component is a problem: the target is met for this data; the remaining "
                "mistakes "
                "show whether a better human reference or metric is needed.",
                (),
            ),
        )
    order: list[str] = []
    addresses: dict[str, list[str]] = {}
    for problem in problems:
        for action_id in RECIPE[problem]:
            if action_id not in addresses:
                order.append(action_id)
                addresses[action_id] = []
            addresses[action_id].append(problem)
    return tuple(Action(a, *_wording(a, model_family), tuple(addresses[a])) for a in order)
