#!/usr/bin/env python3
"""Writes the (epsilon, order) reference grid of the Swift RDP accountant (dev-only).

  python3 -m venv /tmp/dpvenv && /tmp/dpvenv/bin/pip install dp-accounting==0.6.0
  /tmp/dpvenv/bin/python tools/make_dp_fixture.py --out Tests/PrivacyTests/Fixtures/rdp_grid.json

Made with dp-accounting 0.6.0 (numpy 2.4.6, scipy 1.17.1, Python 3.11.7). CI never runs this:
the JSON it writes is committed and read by Tests/PrivacyTests/FixtureAgreementTests.swift.

Each point is the Poisson-subsampled Gaussian mechanism with sampling rate q and noise
multiplier z, composed T times with dp-accounting's RdpAccountant (default orders, add-or-remove
neighbouring relation), converted to epsilon at delta by get_epsilon_and_optimal_order. The
file also records a few noise calibrations by dp_accounting.calibrate_dp_mechanism,
dp-accounting's default orders (so the Swift side can check it uses the same grid), and a few
one-step RDP vectors (per order, for diagnosing a disagreement); an order whose RDP is infinite
(dp-accounting's fractional series did not converge in 1,000 terms, so it drops that order) is
written as null.
"""
import argparse
import itertools
import json
import math
import os
import sys
from importlib import metadata

from absl import logging as absl_logging
import dp_accounting
from dp_accounting.rdp import rdp_privacy_accountant as rdp

# The grid of the brief, plus a few extreme points (T = 10^6, z at the ends of [0.3, 100]).
QS = [0.001, 0.01, 0.1, 0.5, 1.0]
ZS = [0.5, 0.8, 1.0, 2.0, 5.0]
TS = [1, 10, 100, 1000]
DELTAS = [1e-5, 1e-6]
EXTRA = [  # (q, z, T, delta)
    (0.01, 0.3, 1_000_000, 1e-5),
    (0.001, 0.3, 1_000_000, 1e-5),
    (0.01, 1.1, 1_000_000, 1e-6),
    (0.5, 100.0, 1_000_000, 1e-5),
    (1.0, 100.0, 1_000_000, 1e-5),
    (0.001, 100.0, 1_000_000, 1e-6),
    (0.004, 1.3, 50_000, 1e-5),
]
# Noise calibrations (target epsilon, q, T, delta) by dp_accounting.calibrate_dp_mechanism.
CALIBRATIONS = [(1.0, 0.01, 1000, 1e-5), (8.0, 0.1, 100, 1e-5), (3.0, 1.0, 10, 1e-6),
                (0.5, 0.001, 10_000, 1e-6), (2.0, 0.05, 500, 1e-5)]
# Single-step RDP vectors recorded for diagnosis.
RDP_VECTORS = [(0.01, 1.0), (0.1, 0.8), (0.5, 2.0), (0.001, 0.5)]


def epsilon_and_order(q, z, steps, delta):
    """dp-accounting's epsilon and optimal order for q, z composed `steps` times."""
    accountant = dp_accounting.rdp.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z))
    accountant.compose(event, steps)
    eps, order = accountant.get_epsilon_and_optimal_order(delta)
    return float(eps), float(order)


def calibrated_noise(target, q, steps, delta):
    """dp-accounting's smallest noise multiplier meeting target epsilon (tolerance 1e-6 in z)."""
    def event(z):
        return dp_accounting.SelfComposedDpEvent(
            dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z)), steps)
    return float(dp_accounting.calibrate_dp_mechanism(
        dp_accounting.rdp.RdpAccountant, event, target, delta))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="Tests/PrivacyTests/Fixtures/rdp_grid.json",
                        help="where to write the JSON fixture")
    args = parser.parse_args()
    # dp-accounting warns for every order its fractional series drops; the Swift side drops the same.
    absl_logging.set_verbosity(absl_logging.ERROR)

    points = []
    grid = list(itertools.product(QS, ZS, TS, DELTAS)) + EXTRA
    for q, z, steps, delta in grid:
        eps, order = epsilon_and_order(q, z, steps, delta)
        points.append({"q": q, "z": z, "steps": steps, "delta": delta,
                       "epsilon": eps, "order": order})

    orders = [float(a) for a in rdp.DEFAULT_RDP_ORDERS]
    vectors = []
    for q, z in RDP_VECTORS:
        values = rdp._compute_rdp_poisson_subsampled_gaussian(q, z, orders)
        vectors.append({"q": q, "z": z,
                        "rdp": [float(v) if math.isfinite(v) else None for v in values]})

    calibrations = [{"targetEpsilon": t, "q": q, "steps": steps, "delta": delta,
                     "noiseMultiplier": calibrated_noise(t, q, steps, delta)}
                    for t, q, steps, delta in CALIBRATIONS]

    fixture = {
        "generator": "tools/make_dp_fixture.py",
        "dpAccountingVersion": metadata.version("dp-accounting"),
        "mechanism": "PoissonSampledDpEvent(q, GaussianDpEvent(z)) composed T times, "
                     "RdpAccountant default orders, get_epsilon_and_optimal_order(delta)",
        "defaultOrders": orders,
        "points": points,
        "rdpVectors": vectors,
        "calibrations": calibrations,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(fixture, f, indent=1, allow_nan=False)
        f.write("\n")
    print(f"wrote {len(points)} points, {len(calibrations)} calibrations and {len(vectors)} RDP vectors "
          f"to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
