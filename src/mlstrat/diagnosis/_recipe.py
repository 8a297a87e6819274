"""The basic recipe (METHOD.md §3): which actions address which component."""

from __future__ import annotations

from collections.abc import Sequence

from mlstrat.diagnosis._model import Action

__all__ = ["RECIPE", "ACTIONS", "MEASURE_HUMAN_LEVEL", "actions_for"]

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


def actions_for(problems: Sequence[str]) -> tuple[Action, ...]:
    """Recipe entries for ``problems`` (ordered as given), each action once.

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
    return tuple(Action(a, ACTIONS[a][0], ACTIONS[a][1], tuple(addresses[a])) for a in order)
