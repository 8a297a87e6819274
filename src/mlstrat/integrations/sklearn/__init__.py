"""scikit-learn in the method's loop: predictions tables from fitted estimators, out-of-fold
probabilities for label issues, and the method's dev set as a ``GridSearchCV`` splitter.

>>> from mlstrat.sklearn import predictions_table, train_dev_cv   # doctest: +SKIP
"""

from mlstrat.integrations.sklearn._bridge import TrainDevCV, out_of_fold_predictions, predictions_table, train_dev_cv

__all__ = ["TrainDevCV", "out_of_fold_predictions", "predictions_table", "train_dev_cv"]
