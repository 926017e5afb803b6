"""Tutorial 1 of the lecture, reproduced: learning rates on a bowl, optimisers on Beale, all minima.

Run:  python examples/landscape_tutorial.py   (writes the PNGs under examples/figures/)
"""

from pathlib import Path

import jax
import jax.numpy as jnp

from jaxmin import find_minima, landscape, minimize, objectives, optim, plot

OUT = Path(__file__).parent / "figures"


def learning_rates_on_the_bowl() -> None:
    """GD on x² + y²: η = 0.1 converges, 0.5 lands in one step, 1 oscillates, 1.01 diverges."""
    bowl = objectives.quadratic_bowl(1.0, 1.0)
    start = jnp.array([1.5, -1.0])
    results = {
        f"η={eta}": minimize(bowl.fun, start, optim.gd(eta), steps=200, gtol=1e-10)
        for eta in (0.1, 0.5, 1.0, 1.01)
    }
    for name, result in results.items():
        print(
            f"bowl {name:7s} {result.status_name:9s} steps={int(result.nit):3d} "
            f"f={float(result.fun):.3g}"
        )
    plot.plot_paths(bowl, results, OUT / "bowl_learning_rates.png")
    plot.plot_loss(bowl, results, OUT / "bowl_learning_rates_loss.png")


def optimisers_on_beale() -> None:
    """The tutorial's five rules for 10⁴ steps from (4, 3) and from (−2, −4)."""
    beale = objectives.beale()
    optimizers = {name: landscape.make_optimizer(name) for name in landscape.TUTORIAL_SETTINGS}
    for start, tag in (((4.0, 3.0), "4_3"), ((-2.0, -4.0), "m2_m4")):
        results = landscape.run_landscape(beale, start, optimizers, steps=10_000, record_every=10)
        for name, result in results.items():
            x, y = (float(v) for v in result.x)
            print(f"beale from {start}: {name:9s} -> ({x:.4f}, {y:.4f}) f={float(result.fun):.3g}")
        plot.plot_paths(beale, results, OUT / f"beale_paths_{tag}.png")
        plot.plot_loss(beale, results, OUT / f"beale_loss_{tag}.png")


def every_minimum() -> None:
    """find_minima on Himmelblau (4 minima) and the six-hump camel (6 minima)."""
    for name in ("himmelblau", "six_hump_camel"):
        obj = objectives.get(name)
        found = find_minima(obj.fun, obj.lower, obj.upper, key=jax.random.key(0))
        print(
            f"{name}: {len(found.x)} minima, {len(found.saddles)} saddles, "
            f"{len(found.maxima)} maxima"
        )
        plot.plot_minima(obj, found, OUT / f"{name}_minima.png")


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)
    learning_rates_on_the_bowl()
    optimisers_on_beale()
    every_minimum()
    print(f"figures in {OUT}")
