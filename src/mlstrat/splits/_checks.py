"""The checks of a split's summary: label distribution, domain purity, dev-size adequacy."""

from __future__ import annotations

from typing import Any

from mlstrat.splits._policy import resolvable_difference, resolve_size

__all__ = ["CHI2_ALPHA", "ADEQUATE_DIFFERENCE", "DEFAULT_EXPECTED_ERROR", "label_check", "purity", "adequacy"]

CHI2_ALPHA = 0.01            # warn when dev and test label distributions differ at p < 0.01
ADEQUATE_DIFFERENCE = 0.01   # dev is "adequate" when it resolves a 1-point error difference
DEFAULT_EXPECTED_ERROR = 0.1  # error assumed for adequacy when none is given


def label_check(by_label: dict[str, dict[str, int]], warn: list[str]) -> dict[str, Any] | None:
    dev = [v["dev"] for v in by_label.values()]
    test = [v["test"] for v in by_label.values()]
    keep = [i for i in range(len(dev)) if dev[i] + test[i] > 0]
    if len(keep) < 2 or not sum(dev) or not sum(test):
        return {"chi2": None, "p_value": None, "dof": 0, "ok": True}
    stat, dof = _chi2_statistic([dev[i] for i in keep], [test[i] for i in keep])
    # scipy.special's survival function: scipy.stats' chi2_contingency gives the same p but
    # costs a second of imports on every split
    from scipy.special import chdtrc

    p = float(chdtrc(dof, stat))
    ok = bool(p >= CHI2_ALPHA)
    if not ok:
        warn.append(f"dev and test label distributions differ (chi-square p = {p:.3g} < {CHI2_ALPHA}); "
                    "they should come from the same distribution")
    return {"chi2": float(stat), "p_value": float(p), "dof": int(dof), "ok": ok}


def _chi2_statistic(dev: list[int], test: list[int]) -> tuple[float, int]:
    """Pearson's chi-square of the 2 x k table (dev, test) x label, and its degrees of freedom."""
    n_dev, n_test = sum(dev), sum(test)
    n = n_dev + n_test
    stat = 0.0
    for d, t in zip(dev, test):
        col = d + t
        for observed, row in ((d, n_dev), (t, n_test)):
            expected = row * col / n
            stat += (observed - expected) ** 2 / expected
    return stat, len(dev) - 1


def purity(by_domain: dict[str, dict[str, int]], target: str, warn: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"target": target}
    for sp in ("dev", "test"):
        total = sum(v[sp] for v in by_domain.values())
        out[sp] = by_domain.get(target, {}).get(sp, 0) / total if total else None
    out["ok"] = all(out[sp] in (None, 1.0) for sp in ("dev", "test"))
    if not out["ok"]:
        warn.append(f"dev/test are not pure {target!r} rows (dev {share_text(out['dev'])}, "
                    f"test {share_text(out['test'])}); "
                    "they no longer measure the target distribution alone")
    return out


def share_text(share: float | None) -> str:
    """A share as a percentage; ``None`` (a split without rows) as ``no rows``."""
    return "no rows" if share is None else f"{share:.1%}"


def adequacy(n_dev: int, p_given: float | None, delta: float | None, warn: list[str]) -> dict[str, Any]:
    p = p_given if p_given is not None else DEFAULT_EXPECTED_ERROR
    resolvable = resolvable_difference(n_dev, p)
    goal = delta if delta is not None else ADEQUATE_DIFFERENCE
    adequate = resolvable is not None and resolvable <= goal + 1e-12
    if not adequate and resolvable is not None:
        warn.append(f"dev has {n_dev} rows: at an error near {p:.0%} it resolves differences of "
                    f"{resolvable:.1%} or more (95%), not {goal:.1%}; "
                    f"{resolve_size(goal, p)} rows would be needed")
    return {"rows": n_dev, "expected_error": p, "resolvable_difference": resolvable, "goal": goal,
            "adequate": adequate}
