"""Models and engine on hand-computed cases; state round trip; the day-holdout hiding rule."""

import numpy as np

from sensorcast import config, evaluate
from sensorcast.models import Engine, Layout
from sensorcast.models.context import StepContext
from sensorcast.models.detection import ERRONEOUS, MISSING, OK, Detector
from sensorcast.models.ema import EMA
from sensorcast.models.ensemble import Ensemble
from sensorcast.network import build
from tests.conftest import toy_panel


def test_ema_hand_computed():
    ema = EMA(1, alpha=0.5)
    ctx = StepContext(np.zeros((1, 2)), np.zeros((1, 0)), np.ones(1), np.zeros(1), np.zeros(1))
    for y in (10.0, 20.0, 40.0):
        ema.learn(ctx, np.array([y]), np.array([True]))
    assert ema.predict(ctx)[0] == 10 + 0.5 * (20 - 10) + 0.5 * (40 - 15)  # 27.5


def test_ensemble_inverse_mse_weights_and_best():
    ens = Ensemble(1, 2, discount=0.5, power=1.0)
    ens.dmse[:] = [[1.0, 3.0]]
    np.testing.assert_allclose(ens.weights(), [[0.75, 0.25]])
    assert abs(ens.combine(np.array([[4.0], [8.0]]))[0] - (0.75 * 4 + 0.25 * 8)) < 1e-9
    ens.learn(np.array([[1.0], [2.0]]), np.array([2.0]), np.ones(1), np.array([True]))
    np.testing.assert_allclose(ens.dmse, [[0.5 * 1 + 0.5 * 1, 0.5 * 3 + 0]])
    best = Ensemble(1, 2, mode="best")
    best.dmse[:] = [[2.0, 1.0]]
    assert best.combine(np.array([[4.0], [8.0]]))[0] == 8.0


def test_detector_range_z_and_missing():
    det = Detector(3, z=3.0, min_count=1)
    det.var[:] = 1.0
    det.count[:] = 5
    y = np.array([np.nan, 100.0, 10.0])
    flags, z = det.flag(y, np.array([0.0, 0.0, 0.0]), np.array([False, False, True]),
                        others=np.array([[0.0, 0.0, 0.0]]), gap=np.zeros(3))
    assert list(flags) == [MISSING, ERRONEOUS, ERRONEOUS]
    assert z[2] == 10.0
    # a model that explains the reading clears the z flag
    flags, _ = det.flag(y, np.zeros(3), np.array([False, False, True]), others=np.array([[0, 0, 9.5]]),
                        gap=np.zeros(3))
    assert flags[2] == OK
    # after a gap of max_run steps the reading is accepted (re-anchoring)
    flags, _ = det.flag(y, np.zeros(3), np.array([False, False, True]), gap=np.full(3, 10.0))
    assert flags[2] == OK


def _toy(seed=0, t=400):
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.normal(size=t))
    vals = np.stack([base + i + 0.1 * rng.normal(size=t) for i in range(4)], axis=1)[:, :, None]
    vals[rng.random(vals.shape) < 0.05] = np.nan
    return toy_panel(vals, ["temperature"])


def test_state_round_trip_continues_identically():
    panel = _toy()
    cfg = config.load(sets=["spatial-rls.neighbours=2"])
    net = build(panel, cfg)
    a, _, _ = evaluate.new_engine(net, cfg)
    flat = panel.values.reshape(len(panel.times), -1)
    for t in range(200):
        a.step(flat[t])
    b, _, _ = evaluate.new_engine(net, cfg)
    b.from_bytes(a.to_bytes())
    for t in range(200, 400):
        oa, ob = a.step(flat[t]), b.step(flat[t])
        np.testing.assert_array_equal(oa.preds, ob.preds)
        np.testing.assert_array_equal(oa.flag, ob.flag)


def test_missing_reading_is_filled_and_flagged_missing():
    lay = Layout(own_idx=np.arange(2), nbr_idx=np.array([[1], [0]]), lo=np.full(2, -50.0),
                 hi=np.full(2, 50.0), scale=np.ones(2))
    eng = Engine(lay, config.engine_models(config.load()), {"min_count": 5})
    for v in range(20):
        eng.step(np.array([20.0 + 0.1 * v, 21.0 + 0.1 * v]))
    out = eng.step(np.array([np.nan, 23.1]))
    assert out.flag[0] == MISSING and np.isnan(out.actual[0])
    assert abs(out.value[0] - 22.1) < 0.3  # filled from the neighbour and the trend
    out = eng.step(np.array([99.0, 23.2]))  # out of the hard range
    assert out.flag[0] == ERRONEOUS and abs(out.value[0] - 22.2) < 0.3


def test_day_holdout_hides_the_target_but_not_it_as_a_neighbour():
    """Hidden own readings must not change what neighbours see: the shadow run of sensor 0 keeps
    predicting from sensor 1's real values, and its predictions differ from the online ones."""
    panel = _toy(t=24 * 4)
    cfg = config.load(sets=["spatial-rls.neighbours=2"])
    online = evaluate.run_protocol(panel, cfg, "online", progress=False)
    hold = evaluate.run_protocol(panel, cfg, "day-holdout", progress=False)
    days = panel.days  # day 1 (the first full day) is learned from; days 2.. are held out
    d2 = days == np.unique(days)[1]
    assert hold.scored[d2].any() and not hold.scored[days == np.unique(days)[0]].any()
    assert not np.allclose(online.preds[d2], hold.preds[d2], equal_nan=True)
    # the fill of a fully hidden day still tracks the truth through the neighbours
    j = list(hold.models).index("spatial-rls")
    err = np.nanmean(np.abs(hold.preds[d2, j] - hold.truth[d2]))
    assert err < 1.0


def test_kalman_without_dynamics_is_gaussian_conditioning_on_reporting_neighbours():
    """With no memory (rho = fast_rho = 0) and no forgetting, the level estimate is the batch conditional
    mean of the target given the neighbours that report now: μ₀ + Σ₀F (Σ_FF + r I)⁻¹ (u_F − μ_F)."""
    from sensorcast.models.kalman import NeighbourhoodKalman

    rng = np.random.default_rng(3)
    common = rng.normal(size=(300, 1))
    u = np.c_[common + 0.5 * rng.normal(size=(300, 1)), common + rng.normal(size=(300, 3)) * [0.3, 0.6, 1.0]]
    u += [5.0, 1.0, -2.0, 0.5]
    kf = NeighbourhoodKalman(1, 3, rho=0.0, fast_rho=0.0, fast_share=0.5, noise=0.04,
                             mean_forgetting=1.0, cov_forgetting=1.0, refresh=1)
    for row in u:
        kf.predict(row[None, 1:])
        kf.learn(row[:1], np.array([True]))
    now = np.array([[2.0, np.nan, 1.5]])  # neighbour 2 silent: it must not enter
    est = kf.predict(now)[0]
    mu, cov = u.mean(axis=0), np.cov(u.T, bias=True)
    f = [1, 3]
    want = mu[0] + cov[0, f] @ np.linalg.solve(cov[np.ix_(f, f)] + 0.04 * np.eye(2), now[0, [0, 2]] - mu[f])
    assert abs(est - want) < 1e-6, (est, want)
    assert abs(kf.predict(np.full((1, 3), np.nan))[0] - mu[0]) < 1e-9  # no one reports: the mean


def test_kalman_decays_towards_the_mean_in_a_network_wide_outage():
    from sensorcast.models.kalman import NeighbourhoodKalman

    rng = np.random.default_rng(4)
    kf = NeighbourhoodKalman(1, 2, rho=0.9, refresh=1)
    x = np.cumsum(rng.normal(size=400)) * 0.1
    for v in x:
        kf.predict(np.array([[v + 0.1, v - 0.1]]))
        kf.learn(np.array([v]), np.array([True]))
    mu = kf.mu[0, 0]
    dist = []
    for _ in range(60):
        dist.append(abs(kf.predict(np.full((1, 2), np.nan))[0] - mu))
        kf.learn(np.array([np.nan]), np.array([False]))
    assert dist[0] > 0 and all(b <= a + 1e-12 for a, b in zip(dist, dist[1:], strict=False))
    assert dist[-1] < 0.05 * dist[0] + 1e-9


def test_spatial_fill_follows_reporting_neighbours_in_log_space():
    """A gap filled while one neighbour doubles and the other is silent too: the fill follows the one
    that reports, not the silent one's carried-forward value."""
    lay = Layout(own_idx=np.arange(3), nbr_idx=np.array([[1, 2], [0, 2], [0, 1]]), lo=np.zeros(3),
                 hi=np.full(3, 1000.0), scale=np.full(3, 20.0))
    eng = Engine(lay, config.engine_models(config.load(sets=["spatial-rls.neighbours=2"])), {"min_count": 5})
    rng = np.random.default_rng(5)
    level = 50 * np.exp(np.cumsum(rng.normal(scale=0.05, size=600)))
    for v in level:
        eng.step(v * np.array([1.0, 1.2, 0.8]) * np.exp(rng.normal(scale=0.02, size=3)))
    last = level[-1]
    for s in range(1, 25):
        out = eng.step(np.array([np.nan, 1.2, np.nan]) * last * (1 + s / 24))
    sp = eng.models.index("spatial-rls")
    assert abs(out.preds[sp, 0] / (2 * last) - 1) < 0.1, (out.preds[sp, 0], 2 * last)
