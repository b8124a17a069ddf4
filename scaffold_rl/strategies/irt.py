"""SEELE's item-response model: accuracy as a three-parameter logistic function of the hinting rate.

    f(p) = b + (1 - b) / (1 + exp(-k (p + mu)))        (arXiv 2509.06923, Eq. 12)

p is the share of the reference solution shown as a hint, b the guessing floor (accuracy as p -> -inf), k the
discrimination (how sharply accuracy rises with more hint) and -mu the rate at which accuracy is halfway
between b and 1. SEELE fits f per problem to the (rate, accuracy) pairs of the current step and inverts it to
pick the rate whose predicted accuracy equals a target (0.5: where a step of GRPO learns most).

Fitting is bounded least squares (scipy's trust-region-reflective solver, as the paper's LMFIT setup) on the
per-rate mean accuracies, plus the paper's anchor points (0, 0) and (1, 1) for whichever of the rates 0 and 1
has not been tried (no hint: assume unsolved; the whole solution: assume solved). The bounds are ours (the
paper gives none; its Fig. 3 shows a fitted k of exactly 50, suggesting that cap):

* b  in [0, 0.95]: a floor, so never negative; kept below 1 so the curve always rises.
* k  in [0.1, 50]: positive, so f increases with p and is invertible; 50 lets accuracy go from 0.1 to 0.9
  within 0.09 of the rate (a single solution step of a short chain), 0.1 is practically flat.
* mu in [-2, 1]: the midpoint -mu in [-1, 2], one unit beyond the usable rates on each side, enough to say
  "solved without any hint" or "not solved even with the full solution" without drifting off to infinity.

Pure numpy/scipy, no torch: the strategy calls it between generation rounds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

LOWER = np.array([0.0, 0.1, -2.0])  # b, k, mu
UPPER = np.array([0.95, 50.0, 1.0])
MIN_POINTS = 3  # three parameters: fewer points (anchors included) leave the curve undetermined
GOOD_COST = 0.5 * 0.02**2  # least_squares' cost is half the squared residual sum: an RMSE of 0.02 is good enough


@dataclass(frozen=True)
class IRTFit:
    b: float
    k: float
    mu: float
    rmse: float  # root mean squared residual over the fitted points (anchors included)

    def predict(self, p):
        return logistic3(p, self.b, self.k, self.mu)


def logistic3(p, b: float, k: float, mu: float):
    """f(p) = b + (1 - b) * sigmoid(k (p + mu)), for a float or an array of rates."""
    z = k * (np.asarray(p, dtype=float) + mu)
    return b + (1.0 - b) / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))


def fit_points(rates, accuracies, anchors: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The points the curve is fitted to: one per distinct rate (mean accuracy of every round that used it),
    plus the anchors (0, 0) / (1, 1) where rate 0 / rate 1 was not tried. Sorted by rate."""
    sums: dict[float, list[float]] = {}
    for p, a in zip(rates, accuracies):
        key = round(float(p), 9)  # effective rates come from integer lengths; equal lengths give equal floats
        sums.setdefault(key, []).append(float(a))
    points = {p: sum(v) / len(v) for p, v in sums.items()}
    if anchors:
        points.setdefault(0.0, 0.0)
        points.setdefault(1.0, 1.0)
    xs = sorted(points)
    return np.array(xs, dtype=float), np.array([points[x] for x in xs], dtype=float)


def _start_mu(x: np.ndarray, y: np.ndarray) -> float:
    """-(the rate where the points first reach 0.5), linearly interpolated: a starting midpoint."""
    for i in range(1, len(x)):
        if y[i - 1] < 0.5 <= y[i]:
            t = (0.5 - y[i - 1]) / (y[i] - y[i - 1])
            return -float(x[i - 1] + t * (x[i] - x[i - 1]))
    return -0.5 if y.mean() < 0.5 else 0.0


def fit_3pl(rates, accuracies, anchors: bool = True) -> IRTFit | None:
    """The least-squares 3PL curve through the points (see fit_points), or None when it cannot be trusted:
    too few points, a solver error, or non-finite parameters. Two starts (a gentle and a steep slope) from the
    interpolated midpoint (the steep one only when the gentle one leaves an RMSE above 0.02); the lower cost
    wins, which avoids the flat local optimum that step-like data can trap one start in."""
    x, y = fit_points(rates, accuracies, anchors)
    if len(x) < MIN_POINTS or not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return None

    def residuals(theta):
        return logistic3(x, *theta) - y

    def jacobian(theta):
        b, k, mu = theta
        s = 1.0 / (1.0 + np.exp(-np.clip(k * (x + mu), -500.0, 500.0)))
        ds = (1.0 - b) * s * (1.0 - s)
        return np.stack([1.0 - s, ds * (x + mu), ds * k], axis=1)

    mu0 = float(np.clip(_start_mu(x, y), LOWER[2] + 1e-3, UPPER[2] - 1e-3))
    best = None
    for k0 in (5.0, 25.0):
        if best is not None and best.cost <= GOOD_COST * len(x):
            break  # the first start already fits: the second would only cost time (a fit is ~2 ms)
        try:
            # tolerances 1e-6: accuracies are multiples of 1/n, far coarser; the defaults cost ~30 % more time
            res = least_squares(residuals, np.array([0.01, k0, mu0]), jac=jacobian, bounds=(LOWER, UPPER),
                                method="trf", max_nfev=200, ftol=1e-6, xtol=1e-6, gtol=1e-6)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        if res.status < 0 or not np.all(np.isfinite(res.x)) or not math.isfinite(res.cost):
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        return None
    b, k, mu = (float(v) for v in best.x)
    return IRTFit(b, k, mu, rmse=math.sqrt(2.0 * best.cost / len(x)))


def invert_3pl(fit: IRTFit, target: float) -> float | None:
    """The rate p in [0, 1] with f(p) = target: p = -mu - ln((1 - target) / (target - b)) / k, clipped.

    A target at or below the floor b is met by every rate, so the least hint, 0, is returned. None when the
    curve cannot be inverted (a target outside (0, 1), k <= 0, non-finite numbers)."""
    if not 0.0 < target < 1.0 or not fit.k > 0 or not all(map(math.isfinite, (fit.b, fit.k, fit.mu))):
        return None
    if target <= fit.b:
        return 0.0
    p = -fit.mu - math.log((1.0 - target) / (target - fit.b)) / fit.k
    if not math.isfinite(p):
        return None
    return min(1.0, max(0.0, p))


def next_rate(rates, accuracies, previous: float, target: float = 0.5,
              anchors: bool = True) -> tuple[float, IRTFit | None, str]:
    """The rate for the next round and why: (inverted rate, fit, "fit"), or `previous` kept with status
    "no_data" (nothing observed yet), "too_few" (fewer than 3 points even with the anchors) or "failed" (the
    solver failed, or its curve cannot be inverted)."""
    if len(rates) == 0:
        return previous, None, "no_data"
    if len(fit_points(rates, accuracies, anchors)[0]) < MIN_POINTS:
        return previous, None, "too_few"
    fit = fit_3pl(rates, accuracies, anchors)
    p = None if fit is None else invert_3pl(fit, target)
    if p is None:
        return previous, None, "failed"
    return p, fit, "fit"
