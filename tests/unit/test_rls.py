"""RLS against batch weighted least squares, and numerical robustness on every bundled data set."""

import numpy as np
import pytest

from sensorcast import config, evaluate
from sensorcast.io import datasets
from sensorcast.models.rls import RLSBank


def batch_wls(x: np.ndarray, y: np.ndarray, lam: float, delta: float) -> np.ndarray:
    """argmin_w Σ_i λ^(T-i) (y_i − x_i·w)² + λ^T/δ ‖w‖² (what RLS with P0 = δI computes)."""
    t, p = x.shape
    wts = lam ** (t - 1 - np.arange(t))
    a = (x * wts[:, None]).T @ x + lam**t / delta * np.eye(p)
    b = (x * wts[:, None]).T @ y
    return np.linalg.solve(a, b)


@pytest.mark.parametrize("lam", [0.95, 0.98, 1.0])
def test_rls_matches_batch_weighted_least_squares(lam):
    rng = np.random.default_rng(7)
    n, p, t = 5, 4, 300
    w_true = rng.normal(size=(n, p))
    x = rng.normal(size=(t, n, p))
    y = (x * w_true).sum(-1) + 0.1 * rng.normal(size=(t, n))
    bank = RLSBank(n, p, forgetting=lam, delta=1e3, huber=np.inf, max_trace=1e12)
    for i in range(t):
        bank.learn(x[i], y[i], np.ones(n, dtype=bool))
    for s in range(n):
        np.testing.assert_allclose(bank.w[s], batch_wls(x[:, s], y[:, s], lam, 1e3), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(bank.P[s], bank.P[s].T)


def test_rls_mask_updates_only_selected_rows():
    bank = RLSBank(3, 2, forgetting=0.99)
    x = np.ones((3, 2))
    bank.learn(x, np.array([1.0, 2.0, 3.0]), np.array([True, False, True]))
    assert np.all(bank.w[1] == 0) and np.all(bank.w[0] != 0) and np.all(bank.w[2] != 0)


def test_rls_resets_on_blow_up_and_never_emits_nan():
    bank = RLSBank(2, 2, forgetting=0.95, delta=100.0)
    flat = np.zeros((2, 2))
    for _ in range(400):  # unexcited regressors: P winds up by 1/λ per step
        bank.learn(flat, np.zeros(2), np.ones(2, dtype=bool))
    bank.learn(np.array([[1.0, 1.0], [np.inf, 1.0]]), np.array([1e300, np.nan]), np.ones(2, dtype=bool))
    assert np.isfinite(bank.P).all() and np.isfinite(bank.w).all()
    assert np.trace(bank.P[0]) <= bank.max_trace


@pytest.mark.parametrize("dataset,protocol", [("keti", "online"), ("aqi36", "aqi36"),
                                              ("intel-extract", "day-holdout")])
@pytest.mark.parametrize("lam", [0.95, 1.0])
def test_engine_never_emits_nan_or_diverges(dataset, protocol, lam):
    """Every forgetting factor at the ends of [0.95, 1], every bundled data set: finite, bounded."""
    panel = datasets.load(dataset)
    cfg = config.load(sets=[f"ar-rls.forgetting={lam}", f"spatial-rls.forgetting={lam}",
                            f"spatial-rls.level_forgetting={lam}"])
    oc = evaluate.run_protocol(panel, cfg, protocol, progress=False)
    has = np.isfinite(oc.preds[:, 0])  # persistence has a value: every model must have one
    for j, model in enumerate(oc.models):
        p = oc.preds[:, j]
        assert np.isfinite(p[has]).all(), f"{model} emitted NaN/inf at λ={lam}"
    truth = panel.values.reshape(len(panel.times), -1)
    span = np.nanmax(truth) - np.nanmin(truth)
    assert np.nanmax(np.abs(oc.preds)) <= np.nanmax(np.abs(truth)) + 2 * span
