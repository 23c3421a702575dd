"""Weekly follower history: organic growth, bought-follower steps and genuine viral spikes.

followers_t = real_t + organic_fake_t + bought_t, with
  real_t = real_end * growth_t * viral_t / viral_end       (growth_end = 1)
  organic_fake_t = organic_fake_end * growth_t            (bots accumulate with the account)
  bought_t = bought_end * 1[t >= t_bought] * decay_t / decay_end
Bought followers arrive in one or two weeks (a step) and never engage; a viral spike raises
REAL followers, so the engagement of later posts rises with it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data.synthetic import params as P
from data.synthetic.creators import CreatorState


@dataclass(frozen=True)
class History:
    dates: pd.DatetimeIndex  # weekly snapshot dates, oldest first
    total: np.ndarray  # (n, weeks) observed followers
    effective_audience: np.ndarray  # (n, weeks) real followers weighted by reach
    bought_week: np.ndarray  # -1 when no purchase
    viral_week: np.ndarray  # -1 when no viral spike
    viral_jump: np.ndarray

    def week_of(self, timestamps: np.ndarray) -> np.ndarray:
        start = self.dates[0].to_datetime64()
        weeks = (timestamps - start) // np.timedelta64(7, "D")
        return np.clip(weeks.astype("int64"), 0, len(self.dates) - 1)


def simulate_history(rng: np.random.Generator, state: CreatorState,
                     weeks: int = P.HISTORY_WEEKS) -> History:
    n = state.n
    t = np.arange(weeks)
    drift = rng.normal(0.003, 0.003, n)  # ~ +17% real followers a year (assumption)
    steps = drift[:, None] + rng.normal(0, 0.006, (n, weeks))
    steps[:, 0] = 0
    log_growth = np.cumsum(steps, axis=1)
    growth = np.exp(log_growth - log_growth[:, -1:])

    viral_week = np.where(state.viral, rng.integers(8, weeks - 6, n), -1)
    viral_jump = np.where(state.viral, rng.uniform(*P.VIRAL_JUMP_RANGE, n), 0.0)
    since_viral = t[None, :] - viral_week[:, None]
    ramp = np.clip((since_viral + 1) / 2, 0, 1) * state.viral[:, None]  # two weeks to peak
    viral_factor = 1 + viral_jump[:, None] * ramp

    real_end = state.real_followers
    organic_fake_end = state.followers * (1 - state.bought_share) * state.organic_fake_share
    bought_end = state.followers * state.bought_share
    real = real_end[:, None] * growth * viral_factor / viral_factor[:, -1:]
    organic_fake = organic_fake_end[:, None] * growth

    bought_week = np.where(state.bought, rng.integers(6, weeks - 2, n), -1)
    # Some purchases are delivered over two weeks (half, then the rest).
    split = state.bought & (rng.random(n) < 0.4)
    delivered = ((t[None, :] >= bought_week[:, None]).astype("float64")
                 - 0.5 * (split[:, None] & (t[None, :] == bought_week[:, None])))
    years_since = np.clip(t[None, :] - bought_week[:, None], 0, None) / 52
    decay = 1 - P.BOUGHT_DECAY_PER_YEAR * years_since
    end_decay = np.where(state.bought, decay[:, -1], 1.0)
    bought = bought_end[:, None] * delivered * decay / end_decay[:, None]
    bought = np.where(state.bought[:, None], bought, 0.0)

    churn = np.exp(rng.normal(0, 0.002, (n, weeks)))  # unfollow noise between snapshots
    total = np.round((real + organic_fake + bought) * churn)
    total[:, -1] = state.followers  # the last snapshot is the current count
    seen = 1 - state.mass_follower_share * (1 - P.MASS_FOLLOWER_SEEN)
    dates = pd.date_range(end=P.WORLD_END, periods=weeks, freq="7D")
    return History(dates=dates, total=total, effective_audience=real * seen[:, None],
                   bought_week=bought_week, viral_week=viral_week, viral_jump=viral_jump)


def history_table(state: CreatorState, history: History) -> pd.DataFrame:
    n, weeks = history.total.shape
    return pd.DataFrame({
        "creator_id": pd.array(np.repeat(state.creator_id, weeks), dtype="str"),
        "date": np.tile(history.dates.to_numpy(dtype="datetime64[ns]"), n),
        "followers": pd.array(history.total.reshape(-1).astype("int64"), dtype="Int64"),
    })
