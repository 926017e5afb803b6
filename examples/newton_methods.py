"""Newton's method next to gradient descent and Adam, and Gauss–Newton for a χ² fit.

1. Saddle surfaces: the plain Newton step solves ∇f = 0 and lands on the saddle of x² − y² in a
   single step (and creeps into the monkey saddle's flat one); damped Newton (Levenberg–Marquardt
   shift + Armijo line search) only accepts steps that lower f and runs downhill instead.
2. Rosenbrock and Beale from the tutorial's starts: iterations to ‖∇f‖ ≤ 1e-10 for Newton,
   damped Newton, gradient descent and Adam, paths and loss curves. On Beale plain Newton is
   drawn to the saddle at (0, 1); damped Newton reaches the minimum (3, ½).
3. Gauss–Newton fit of an exponential decay A e^{−t/τ} to noisy pseudo-data: best fit, errors
   from the parameter covariance (JᵀC⁻¹J)⁻¹, and the 1σ band of the curve.

Run:  python examples/newton_methods.py   (writes PNGs under examples/figures/)
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

import jaxmin
from jaxmin import landscape, objectives, optim, plot

OUT = Path(__file__).parent / "figures"
FIRST_ORDER = {"gd": optim.gd(1e-3), "adam": optim.adam(1e-2)}
"""GD and Adam rates for the smooth surfaces; on Beale's steep walls the tutorial's settings."""


def compare(name: str, start: tuple[float, float], steps: int) -> None:
    """Newton, damped Newton, GD and Adam from ``start``: paths (and loss curves) as PNG."""
    objective = objectives.get(name)
    x0 = jnp.asarray(start)
    rules = FIRST_ORDER
    if name == "beale":
        rules = {rule: landscape.make_optimizer(rule) for rule in FIRST_ORDER}
    results = {
        rule: jaxmin.minimize(objective.fun, x0, opt, steps=steps, gtol=1e-10)
        for rule, opt in rules.items()
    }
    for method in landscape.NEWTON_SETTINGS:
        results[method] = landscape.run_newton(objective, start, method, steps=steps)
    for method, r in results.items():
        x = np.round(np.asarray(r.x), 6)
        print(
            f"  {name:13s} {method:7s} iterations={int(r.nit):6d} x={x} f={float(r.fun):.3g}"
            f"  {r.status_name}"
        )
    plot.plot_paths(objective, results, OUT / f"newton_{name}_paths.png")
    if len(objective.minima):
        plot.plot_loss(objective, results, OUT / f"newton_{name}_loss.png")


def exponential_decay_fit() -> None:
    """Fit A e^{−t/τ} to 40 points with σ growing in t; draw data, fit and 1σ band."""
    rng = np.random.default_rng(7)
    t = np.linspace(0.0, 6.0, 40)
    sigma = 0.05 + 0.02 * t
    truth = {"amplitude": 5.0, "tau": 1.5}
    y = truth["amplitude"] * np.exp(-t / truth["tau"]) + sigma * rng.standard_normal(t.size)

    def model(p, t):
        return p["amplitude"] * jnp.exp(-t / p["tau"])

    def residuals(p):
        return (model(p, jnp.asarray(t)) - jnp.asarray(y)) / jnp.asarray(sigma)

    start = {"amplitude": jnp.asarray(1.0), "tau": jnp.asarray(0.5)}
    fit = jaxmin.newton(residuals, start, method="gauss-newton", gtol=1e-10)
    cov = np.asarray(jaxmin.parameter_covariance(residuals, fit.x))
    errors = np.sqrt(np.diag(cov))  # ravel order of the dict: amplitude, tau
    chi2, dof = 2 * float(fit.fun), t.size - 2
    best = [float(fit.x["amplitude"]), float(fit.x["tau"])]
    print(
        f"  Gauss–Newton: {fit.status_name} in {int(fit.nit)} iterations; "
        f"A = {best[0]:.3f} ± {errors[0]:.3f} (true 5), τ = {best[1]:.3f} ± {errors[1]:.3f} "
        f"(true 1.5), χ²/dof = {chi2:.1f}/{dof}"
    )
    fine = jnp.linspace(0.0, 6.0, 200)
    curve = np.asarray(model(fit.x, fine))
    # the curve's 1σ band: J_model V J_modelᵀ on the diagonal (linear error propagation)
    jac = jax.jacfwd(lambda v: model({"amplitude": v[0], "tau": v[1]}, fine))(jnp.asarray(best))
    band = np.sqrt(np.einsum("ij,jk,ik->i", np.asarray(jac), cov, np.asarray(jac)))

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.errorbar(t, y, sigma, fmt="o", ms=3, color="k", label="pseudo-data")
    ax.plot(fine, 5.0 * np.exp(-np.asarray(fine) / 1.5), "--", color="0.4", label="truth")
    ax.plot(fine, curve, color="tab:red", label="Gauss–Newton fit")
    ax.fill_between(fine, curve - band, curve + band, color="tab:red", alpha=0.3, label="1σ")
    ax.set_xlabel("t")
    ax.set_ylabel("y")
    ax.set_title(
        f"A = {best[0]:.3f} ± {errors[0]:.3f}, τ = {best[1]:.3f} ± {errors[1]:.3f}, "
        f"χ²/dof = {chi2:.1f}/{dof}"
    )
    ax.legend()
    fig.savefig(OUT / "newton_gauss_newton_fit.png", dpi=120)


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    OUT.mkdir(exist_ok=True)
    compare("saddle", (1.5, 1e-3), 60)
    compare("monkey_saddle", (1.0, 0.5), 60)
    compare("rosenbrock", (-1.2, 1.0), 100_000)
    compare("beale", (4.0, 3.0), 100_000)
    exponential_decay_fit()


if __name__ == "__main__":
    main()
