"""The coordinate search shared by image and tabular synthesis."""

from __future__ import annotations

import itertools

import pytest

from mlstrat.mismatch._calibrate import coordinate_search

GRID_A = (0.0, 0.5, 1.0, 1.5, 2.0)
GRID_B = (0.0, 0.1, 0.2, 0.3)


def test_finds_the_grid_minimum_of_a_separable_distance():
    calls = []

    def distance(p):
        calls.append(p)
        return (p["x"]["a"] - 1.4) ** 2 + (p["y"]["b"] - 0.22) ** 2

    best, d = coordinate_search({"x": {"a": 0.0}, "y": {"b": 0.0, "keep": 7.0}},
                                [("x", "a", GRID_A), ("y", "b", GRID_B)], distance)
    # brute force over the grid: the same point
    brute = min(itertools.product(GRID_A, GRID_B), key=lambda ab: (ab[0] - 1.4) ** 2 + (ab[1] - 0.22) ** 2)
    assert (best["x"]["a"], best["y"]["b"]) == brute == (1.5, 0.2)
    assert best["y"]["keep"] == 7.0  # parameters that are not free are kept
    assert d == pytest.approx((1.5 - 1.4) ** 2 + (0.2 - 0.22) ** 2)
    # the first sweep found it, the second changed nothing and stopped: 1 + 2 x (5 + 4) evaluations
    assert len(calls) == 1 + 2 * (len(GRID_A) + len(GRID_B))


def test_a_tie_keeps_the_earlier_value_and_the_input_is_not_modified():
    params = {"t": {"s": 0.0}}
    best, d = coordinate_search(params, [("t", "s", (0.5, 1.0, 2.0))], lambda p: 1.0)
    assert best == {"t": {"s": 0.0}} and d == 1.0
    best, _ = coordinate_search(params, [("t", "s", (0.5, 1.0))], lambda p: abs(p["t"]["s"] - 1.0))
    assert best == {"t": {"s": 1.0}} and params == {"t": {"s": 0.0}}


def test_each_sweep_moves_coupled_parameters_further():
    # (a - b)^2 + (a - 2)^2 / 2 from (0, 0): a and b climb together, half a grid step per sweep
    def distance(p):
        a, b = p["t"]["a"], p["t"]["b"]
        return (a - b) ** 2 + 0.5 * (a - 2.0) ** 2

    grid = (0.0, 0.5, 1.0, 1.5, 2.0)
    free = [("t", "a", grid), ("t", "b", grid)]
    start = {"t": {"a": 0.0, "b": 0.0}}
    one, d1 = coordinate_search(start, free, distance, sweeps=1)
    three, d3 = coordinate_search(start, free, distance)
    assert one == {"t": {"a": 0.5, "b": 0.5}} and d1 == pytest.approx(1.125)
    assert three == {"t": {"a": 1.5, "b": 1.5}} and d3 == pytest.approx(0.125)
