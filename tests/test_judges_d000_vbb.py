"""Can the judges of document 000 (Venturi, Bandeira & Bruna) fail? Doctored tables (see ``judges.py``)."""

from __future__ import annotations

import pytest
from judges import assert_doctor_breaks_the_verdict, assert_outside_hypotheses_is_not_covered, case_id, cases, judge


def _on_rows(table, rows, **columns):
    """``table`` with ``columns`` (name -> value or function of the table) set on ``rows`` only."""
    table = table.copy()
    for col, value in columns.items():
        table.loc[rows, col] = value(table) if callable(value) else value
    return table


def _a4(t):
    return t["part"] == "A4"


def _growth_rows(t, p, name):
    """Rows of the J = K growth part for activation ``name``."""
    first = len(p.polynomials) * len(p.dims)
    return t.index[(t.index >= first) & (t["activation"] == name)]


DOCTORS = {
    "vbb-bad-valley": [
        ("the global (u > 0) floor is far from the population formula",
         lambda t, p: t.assign(floor_plus_exact=3 * t["theory_floor_plus"])),
        ("the spurious (u < 0) floor is far from the population formula",
         lambda t, p: t.assign(floor_minus_exact=3 * t["theory_floor_minus"])),
        ("the loss on s = 0 (the top of the barrier) is far from the population formula",
         lambda t, p: t.assign(L_zero=3 * t["theory_L_zero"])),
        ("descent in the spurious branch stops above that branch's floor",
         lambda t, p: t.assign(floor_minus_gd_max=t["floor_minus_exact"] * (1 + 1e-3))),
        ("the floor gap is 20 M^2, not 8 M^2",
         lambda t, p: t.assign(floor_minus_exact=t["floor_plus_exact"] + 20 * t["M"] ** 2)),
        ("no valley: the spurious floor equals the global one",
         lambda t, p: t.assign(floor_minus_exact=t["floor_plus_exact"])),
        ("the global floor is 6 measured SE off the population formula",
         lambda t, p: t.assign(floor_plus_exact=t["theory_floor_plus"] + 6 * t["floor_plus_se"])),
        ("L(0) is 6 measured SE off the population formula",
         lambda t, p: t.assign(L_zero=t["theory_L_zero"] - 6 * t["L_zero_se"])),
    ],
    "vbb-descent-path": [
        ("a descent certificate fails",
         lambda t, p: t.assign(certificate=[False] + [True] * (len(t) - 1))),
        ("a path ends above the convex optimum (a spurious valley)",
         lambda t, p: t.assign(end_loss=t["optimum"] + 0.1)),
    ],
    "vbb-quadratic-path": [
        ("a p = 2n descent certificate fails",
         lambda t, p: _on_rows(t, _a4(t) & (t["p"] == 2 * t["n"]), certificate=False)),
        ("a p = 2n + 1 descent certificate fails",
         lambda t, p: _on_rows(t, _a4(t) & (t["p"] == 2 * t["n"] + 1), certificate=False)),
        ("an A4 path ends above the global minimum 0",
         lambda t, p: _on_rows(t, _a4(t), end_loss=1e-3)),
    ],
    "vbb-random-features": [
        ("the held-out excess falls like p^-1/2, not 1/p",
         lambda t, p: t.assign(excess=t["excess"] * (t["p"] / t["p"].min()) ** 1.5)),
        ("the held-out excess is twice eq. 29's Monte Carlo bound C (1/p + 1/K)",
         lambda t, p: t.assign(excess=2 * t["mc_bound"])),
    ],
    "vbb-intrinsic-dimension": [
        ("a polynomial's rank exceeds the corrected formula",
         lambda t, p: _on_rows(t, t.index == 0, rank=lambda d: d.loc[0, "rank"] + 1)),
        ("z^2's rank keeps growing past the formula",
         lambda t, p: _on_rows(t, _growth_rows(t, p, "z2"), rank=lambda d: d.loc[_growth_rows(d, p, "z2"), "J"])),
        ("a non-polynomial activation's rank saturates",
         lambda t, p: _on_rows(t, _growth_rows(t, p, p.activations[0]),
                               rank=lambda d: d.loc[_growth_rows(d, p, p.activations[0]), "J"] // 2)),
    ],
    "vbb-polynomial-width": [
        ("an A3 certificate at p >= formula fails",
         lambda t, p: _on_rows(t, t["p"] >= t["formula"], certificate=False)),
        ("A3 paths at p >= dim* end above the least-squares optimum (a spurious valley)",
         lambda t, p: t.assign(end_loss=t["optimum"] + 0.1)),
        ("on sphere data (dim* < formula) the A3 paths end above the optimum",
         lambda t, p: _on_rows(t, (t["p"] >= t["dim_star"]) & (t["p"] < t["formula"]),
                               end_loss=lambda d: d["optimum"] + 0.1)),
    ],
    "vbb-quadratic-units": [
        ("one unit fits ||x||^2 (floor 0, not 8/3)",
         lambda t, p: _on_rows(t, (t["part"] == "Ex2.2a") & (t["p"] == 1), value=0.0, reference=0.0)),
        ("two units leave a residual on ||x||^2",
         lambda t, p: _on_rows(t, (t["part"] == "Ex2.2a") & (t["p"] == 2), value=lambda d: d["scale"] * 1e-3)),
        ("the seed's four-unit formula misses h",
         lambda t, p: _on_rows(t, t["part"] == "Ex2.2b", value=0.25)),
        ("n quadratic units do not fit a full-rank form",
         lambda t, p: _on_rows(t, (t["part"] == "P2.2") & (t["p"] == t["n"]), value=lambda d: d["scale"] * 1e-2)),
    ],
    "vbb-symmetry": [
        ("the group changes Phi",
         lambda t, p: _on_rows(t, t["part"] == "invariance", value=1e-3)),
        ("orbit tangents are not flat directions of the Hessian",
         lambda t, p: _on_rows(t, t["part"] == "hessian", value=1e-2)),
    ],
    "vbb-monte-carlo": [
        ("the Monte Carlo error falls like p^-1/2, not 1/p",
         lambda t, p: t.assign(mse=t["mse"] * (t["p"] / t["p"].min()) ** 0.5)),
        ("the Monte Carlo error is twice C/p",
         lambda t, p: t.assign(mse=2 * t["mse"])),
        ("the cross term of the decomposition is 10 SE off 0",
         lambda t, p: _on_rows(t, t["part"] == "decomposition", cross=lambda d: 10 * d["cross_se"])),
        ("the fitted net's held-out loss is below R",
         lambda t, p: _on_rows(t, t["part"] == "decomposition", L=lambda d: d["R"] - 10 * d["L_se"])),
    ],
    "vbb-arbitrary-valley": [
        ("the spurious floor is far from its closed form",
         lambda t, p: t.assign(floor_minus_exact=1.5 * t["theory_floor_minus"])),
        ("descent from the spurious branch leaves it (ends at the global floor)",
         lambda t, p: t.assign(floor_minus_gd_max=t["floor_plus_exact"])),
        ("no valley: the spurious floor equals the global one",
         lambda t, p: t.assign(floor_minus_exact=t["floor_plus_exact"])),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(DOCTORS), ids=case_id)
def test_judge_disagrees_with_a_doctored_table(name, what, doctor):
    assert_doctor_breaks_the_verdict(name, what, doctor)


OUTSIDE = {
    "vbb-intrinsic-dimension": [
        ("no rank is numerically decided (gap ratio 1)", lambda t, p: t.assign(gap_ratio=1.0)),
    ],
    "vbb-quadratic-path": [
        ("p = 2n - 1 < 2n units", lambda t, p: _on_rows(t, _a4(t), p=lambda d: 2 * d.loc[_a4(d), "n"] - 1)),
    ],
    "vbb-descent-path": [
        ("p < dim*(sigma, X): fewer units than the features' span", lambda t, p: t.assign(dim_star=t["p"] + 1)),
        ("p fresh units do not reach rank dim* (an ill-conditioned span)",
         lambda t, p: t.assign(generic_rank=t["dim_star"] - 1)),
    ],
    "vbb-bad-valley": [
        ("a >= 3b: the u < 0 branch has no floor below L(0)", lambda t, p: t.assign(a=3.5 * t["b"])),
        ("a < b: the roles of the branches swap", lambda t, p: t.assign(a=0.5 * t["b"])),
    ],
    "vbb-random-features": [
        ("iid weights per atom: f* is white noise of variance C/K, not a bounded density",
         lambda t, p: t.assign(teacher_variance=t["atom_variance"])),
    ],
    "vbb-polynomial-width": [
        ("p < dim*(sigma, X) (and below the formula) on every run",
         lambda t, p: t.assign(p=t["dim_star"] - 1)),
    ],
    "vbb-quadratic-units": [
        ("sigma is no monomial z^k", lambda t, p: t.assign(degree=float("nan"))),
    ],
    "vbb-symmetry": [
        ("sigma is not positively homogeneous", lambda t, p: t.assign(degree=float("nan"))),
    ],
    "vbb-monte-carlo": [
        ("directions not on the sphere and noise whose mean depends on x",
         lambda t, p: t.assign(directions="gaussian", noise_mean_depends_on_x=True)),
    ],
    "vbb-arbitrary-valley": [
        ("n = 2: p = 1 > dim_*(z^2, 1) / 2", lambda t, p: t.assign(n=2)),
        ("no spurious branch (g_min >= 0)", lambda t, p: t.assign(theory_g_min=0.5)),
    ],
}


@pytest.mark.parametrize(("name", "what", "doctor"),
                         cases(OUTSIDE), ids=case_id)
def test_judge_says_not_covered_outside_the_hypotheses(name, what, doctor):
    assert_outside_hypotheses_is_not_covered(name, what, doctor)


def test_random_features_upper_bound_is_one_sided():
    """T3.4(2) bounds the excess above: a decay like p^-2 (steeper than 1/p) agrees."""
    def steep(t, p):
        return t.assign(excess=t["mc_bound"] * 0.1 * (t["p"].min() / t["p"]))
    verdict = judge("vbb-random-features", steep)
    assert verdict.passed, verdict.summary


def test_density_teacher_resolves_a_density_and_iid_weights_do_not():
    """Var f* against C/K (the variance of a K-atom average), C from an independent loop over atoms."""
    import torch

    from valleys.experiments.d000_vbb.random_features import RandomFeatureParams, atom_variance, make_teacher

    X = torch.randn(400, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ratios = {}
    for kind in ("density", "iid"):
        teacher = make_teacher(RandomFeatureParams(n=5, K=3000, teacher=kind), torch.Generator().manual_seed(0))
        terms = teacher.rho[None] * torch.relu(X @ teacher.directions.T)  # (N, K): rho_k sigma(<w_k, x>)
        C = float(terms.var(dim=1, unbiased=False).mean())
        assert atom_variance(teacher, X) == pytest.approx(C, rel=1e-9)
        ratios[kind] = float(teacher(X).var()) / (C / 3000)
    assert ratios["density"] > 100 and ratios["iid"] < 3, ratios


def test_bad_valley_few_samples_do_not_decide_the_population_formulas():
    """n_samples below min_samples: the population-formula checks report insufficient draws."""
    verdict = judge("vbb-bad-valley", lambda t, p: t.assign(n_samples=10))
    population = [c for c in verdict.checks if "population" in c.name]
    assert len(population) == 4 and all(c.status == "insufficient draws" for c in population)


def test_bad_valley_gap_label_follows_a_and_b():
    verdict = judge("vbb-bad-valley", lambda t, p: t.assign(a=2.5, b=1.5))
    assert any("a = 2.5, b = 1.5" in c.name for c in verdict.checks), [c.name for c in verdict.checks]


def test_descent_path_optimum_over_a_span_smaller_than_N():
    """n = 1, ReLU / leaky ReLU: dim* = 2 < N, the optimum is y's residual off a 2-d span (> 0),
    and the A3 paths end there: the verdict agrees (it said "disagrees" with an optimum of 0)."""
    from valleys.experiments import get_experiment

    experiment = get_experiment("vbb-descent-path")
    params = experiment.params.preset(quick=True).replace(n_in=1, activations=("relu", "leaky_relu"), n_inits=1)
    measured = experiment.parts.measure(params)
    t = measured.table
    assert (t["dim_star"] == 2).all() and (t["optimum"] > 0.1).all()
    verdict = experiment.parts.judge(measured, params)
    assert verdict.passed, verdict.summary


def test_quadratic_contrast_is_gated_on_minima_and_is_consistency():
    """Contrast ends that are not minima are left out; below the rank floor (a rigorous bound) the
    verdict disagrees through a consistency check."""
    def not_minima(t, p):
        return _on_rows(t, ~_a4(t), end_grad_norm=1.0)
    check = next(c for c in judge("vbb-quadratic-path", not_minima).checks if c.name.startswith("contrast p = n - 1"))
    assert check.status == "not covered"

    def below_floor(t, p):
        return _on_rows(t, ~_a4(t), end_loss=lambda d: 0.5 * d.loc[~_a4(d), "floor_bound"])
    verdict = judge("vbb-quadratic-path", below_floor)
    failed = [c for c in verdict.checks if c.status == "failed"]
    assert not verdict.passed and [c.kind for c in failed] == ["consistency"]


def test_intrinsic_growth_needs_n_at_least_2_and_p21_needs_enough_samples():
    """n = 1 (a homogeneous sigma spans 2 dimensions) leaves T2.1's growth rows out; J, K below
    oversample x formula leave P2.1's rows out."""
    def n_one(t, p):
        return _on_rows(t, t["kind"] == "non-polynomial", n=1)
    verdict = judge("vbb-intrinsic-dimension", n_one)
    growth = [c for c in verdict.checks if "min(J, K) at every size" in c.name]
    assert growth and all(c.status == "not covered" for c in growth)

    def few_samples(t, p):
        first = len(p.polynomials) * len(p.dims)
        return _on_rows(t, t.index < first, K=1)
    verdict = judge("vbb-intrinsic-dimension", few_samples)
    p21 = [c for c in verdict.checks if "rank vs sum" in c.name]
    assert p21 and all(c.status == "not covered" for c in p21)
