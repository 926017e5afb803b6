"""CMA-ES and the genetic algorithm on the 2D surfaces, and CMA-ES in ten dimensions.

Paths are the population means per generation (the populations themselves are clouds around
them), drawn next to gradient descent and Adam from the same start. Then CMA-ES's convergence
on the 10-dimensional Rosenbrock function, and IPOP restarts (population doubling) finding the
global minimum of Rastrigin's function among its ~10¹⁰ local minima.

Run:  python examples/evolution_landscapes.py   (writes PNGs under examples/figures/)
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxmin import cmaes, landscape, objectives, plot

OUT = Path(__file__).parent / "figures"


def surface_paths(name: str, start: tuple[float, float], evaluations: int) -> None:
    """GD and Adam (tutorial settings) vs CMA-ES and GA from ``start`` on surface ``name``."""
    objective = objectives.get(name)
    optimizers = {rule: landscape.make_optimizer(rule) for rule in ("gd", "adam")}
    if name != "beale":  # the tutorial's 1e-6 is tuned to Beale's steep walls
        optimizers = {"gd": landscape.make_optimizer("gd", 1e-3)}
        optimizers["adam"] = landscape.make_optimizer("adam", 1e-2)
    results = landscape.run_landscape(objective, start, optimizers, steps=evaluations)
    for method in ("cmaes", "ga"):
        results[method] = landscape.run_population(
            objective, start, method, evaluations=evaluations
        )
    for method, r in results.items():
        print(f"  {name:10s} {method:6s} x={np.round(np.asarray(r.x), 4)} f={float(r.fun):.3g}")
    plot.plot_paths(objective, results, OUT / f"evolution_{name}_paths.png")


def main() -> None:
    jax.config.update("jax_enable_x64", True)
    surface_paths("beale", (4.0, 3.0), 10_000)
    surface_paths("himmelblau", (0.0, 0.0), 5_000)
    surface_paths("rastrigin", (3.3, -2.7), 5_000)

    rosen = objectives.rosenbrock(10)
    x0 = np.random.default_rng(0).uniform(-3, 3, 10)
    r = cmaes.minimize(rosen.fun, x0, 0.5, key=jax.random.key(0), max_evals=10**5, ftarget=1e-8)
    print(f"  rosenbrock n=10: {r.status_name} after {int(r.nfev)} evaluations")
    plot.plot_convergence(
        r, OUT / "cmaes_rosenbrock10.png", f_star=0.0, title="CMA-ES, Rosenbrock n = 10"
    )

    rastrigin = objectives.rastrigin(10)
    x0 = np.random.default_rng(1).uniform(-4, 4, 10)
    r = cmaes.minimize(
        rastrigin.fun, x0, 2.0, key=jax.random.key(1), max_evals=3 * 10**5, ftarget=1e-8, restarts=8
    )
    print(f"  rastrigin n=10, IPOP: {r.status_name}, f={float(r.fun):.2g}, λ = {r.popsizes}")
    plot.plot_convergence(
        r, OUT / "cmaes_rastrigin10_ipop.png", f_star=0.0, title="IPOP-CMA-ES, Rastrigin n = 10"
    )
    assert float(jnp.max(jnp.abs(r.x))) < 1e-3  # the global minimum, not a local one


if __name__ == "__main__":
    main()
