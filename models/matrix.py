"""FeatureMatrix: the float64 feature matrix every model reads, with O(1) column lookup."""
from __future__ import annotations

import numpy as np
import pandas as pd

from data.dataset import column_labels


def as_float_frame(X: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """X restricted to `columns` (in that order) as float64; a missing column is an error."""
    if columns is not None:
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(f"feature frame lacks columns the model was trained on: {missing}")
        X = X[columns]
    if all(dtype == "float64" for dtype in X.dtypes):
        return X
    return X.astype("float64")


class FeatureMatrix:
    """A float64 matrix of a feature frame with O(1) column lookup.

    Scoring one creator must take milliseconds: pandas column access and insertion cost about
    a millisecond each with pandas 3 string column labels, so the models read columns from
    this matrix and LightGBM predicts on plain arrays.
    """

    def __init__(self, values: np.ndarray, columns, index: pd.Index):
        self.values = values
        # tolist: iterating an Index of pandas 3 string labels costs ~1 us per label.
        self.columns = columns.tolist() if isinstance(columns, pd.Index) else list(columns)
        self.index = index
        self._position = {name: i for i, name in enumerate(self.columns)}

    @classmethod
    def of(cls, X) -> FeatureMatrix:
        if isinstance(X, FeatureMatrix):
            return X
        return cls(X.to_numpy(dtype="float64"), X.columns, X.index)

    def __len__(self) -> int:
        return self.values.shape[0]

    def __contains__(self, name: str) -> bool:
        return name in self._position

    def column(self, name: str) -> np.ndarray:
        """The column's values, all NaN when the column is absent."""
        position = self._position.get(name)
        if position is None:
            return np.full(len(self), np.nan)
        return self.values[:, position]

    def select(self, names: list[str]) -> np.ndarray:
        missing = [n for n in names if n not in self._position]
        if missing:
            raise ValueError(f"feature frame lacks columns the model was trained on: {missing}")
        return self.values[:, [self._position[n] for n in names]]

    def subset(self, names: list[str]) -> FeatureMatrix:
        """The matrix of `names` only, in that order (`select` with the names kept)."""
        return FeatureMatrix(self.select(names), names, self.index)

    def frame(self, names: list[str]) -> pd.DataFrame:
        return pd.DataFrame(self.select(names), columns=column_labels(names), index=self.index)

    def with_columns(self, columns: dict[str, np.ndarray]) -> FeatureMatrix:
        extra = np.column_stack([np.asarray(v, dtype="float64") for v in columns.values()])
        return FeatureMatrix(np.hstack([self.values, extra]), self.columns + list(columns),
                             self.index)
