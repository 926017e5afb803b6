"""Networks trained without gradients: CMA-ES on a smooth fit, GA and CMA-ES on perceptrons.

1. A 1-8-1 tanh network fitted to noisy sin(2x) by minimising the MSE with CMA-ES (25 weights,
   no gradient ever computed) and, for comparison, with backprop + Adam.
2. A 2-12-1 network of perceptrons (step activations) classifying points inside a circle. The
   step's derivative is zero wherever it exists, so backprop gives exactly zero gradients below
   the output layer: Adam moves only the output layer and the hidden "features" stay as they were
   initialised. The genetic algorithm (``jaxmin.ga``: multiplicative + additive mutation,
   single-point crossover, tournament selection, elitism) and CMA-ES (``jaxmin.cmaes``) train
   every layer, the whole population evaluated at once under vmap.

Run:  python examples/perceptron_gradient_free.py   (writes PNGs under examples/figures/)
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from jaxmin import cmaes, ga, nn, optim, plot

OUT = Path(__file__).parent / "figures"


def smooth_fit() -> None:
    """CMA-ES and Adam fitting a 1-8-1 tanh network to 40 noisy points of sin(2x)."""
    x = jnp.linspace(-2, 2, 40)[:, None]
    y = jnp.sin(2 * x) + 0.05 * jax.random.normal(jax.random.key(0), x.shape)
    params = nn.init_mlp(jax.random.key(1), [1, 8, 1], init="glorot_normal")

    def mse(p):
        return jnp.mean((nn.forward(p, x, activation="tanh") - y) ** 2)

    evolved = cmaes.minimize(mse, params, 0.5, key=jax.random.key(2), max_evals=40_000)
    adam = nn.train(
        params,
        x,
        y,
        key=jax.random.key(3),
        activation="tanh",
        optimizer=optim.adam(1e-2),
        steps=4000,
    )
    print(
        f"1-8-1 tanh fit: CMA-ES MSE {float(evolved.fun):.4f} after {int(evolved.nfev)} "
        f"evaluations ({evolved.status_name}); Adam MSE {float(mse(adam.params)):.4f}"
    )
    grid = jnp.linspace(-2.2, 2.2, 200)[:, None]
    curves = {
        "truth sin(2x)": (grid, jnp.sin(2 * grid)),
        "CMA-ES (no gradients)": (grid, nn.forward(evolved.x, grid, activation="tanh")),
        "backprop + Adam": (grid, nn.forward(adam.params, grid, activation="tanh")),
    }
    plot.plot_fit(
        x, y, None, curves, OUT / "cmaes_network_fit.png", title="1-8-1 tanh network, MSE"
    )


def circle_data(key, n=400):
    """Points in [−1, 1]², labelled 1 inside the circle of radius 0.6."""
    x = jax.random.uniform(key, (n, 2), minval=-1, maxval=1)
    return x, (jnp.sum(x**2, axis=1, keepdims=True) < 0.36).astype(x.dtype)


def accuracy(params, x, y):
    """Fraction of points on the right side of the output's zero."""
    logits = nn.forward(params, x, activation="step")
    return jnp.mean((logits > 0) == (y > 0.5))


def perceptrons() -> None:
    x, y = circle_data(jax.random.key(0))
    params = nn.init_mlp(jax.random.key(1), [2, 12, 1], init="normal")
    trained = nn.train(
        params,
        x,
        y,
        key=jax.random.key(2),
        activation="step",
        loss="binary_cross_entropy",
        optimizer=optim.adam(1e-2),
        steps=2000,
    )
    hidden_moved = float(jnp.max(jnp.abs(trained.params[0]["W"] - params[0]["W"])))
    print(f"perceptrons, backprop + Adam: hidden weights moved by {hidden_moved:g} (gradient 0)")

    def error_rate(p):
        return 1.0 - accuracy(p, x, y)

    bce = nn.binary_cross_entropy()

    def cross_entropy(p):  # the output is linear in the last layer: a graded fitness
        return bce.value(nn.forward(p, x, activation="step"), y)

    evolved = ga.minimize(
        error_rate,
        params,
        key=jax.random.key(3),
        popsize=256,
        steps=400,
        mutation="both",
        mutation_rate=0.1,
        mutation_scale=0.05,
        selection="tournament",
        tournament_size=4,
        elitism=2,
    )
    es = cmaes.minimize(cross_entropy, params, 0.3, key=jax.random.key(4), max_evals=60_000)
    panels = {
        "initial": params,
        "backprop + Adam": trained.params,
        "genetic algorithm": evolved.x,
        "CMA-ES": es.x,
    }
    for name, p in panels.items():
        print(f"perceptrons, {name}: accuracy {float(accuracy(p, x, y)):.3f}")

    fig = Figure(figsize=(13, 3.6), layout="constrained")
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 200), np.linspace(-1, 1, 200)), -1)
    for i, (title, p) in enumerate(panels.items()):
        ax = fig.add_subplot(1, 5, i + 1)
        inside = nn.forward(p, grid.reshape(-1, 2), activation="step").reshape(200, 200) > 0
        ax.contourf(grid[..., 0], grid[..., 1], inside, levels=[-0.5, 0.5, 1.5], cmap="Pastel1")
        ax.scatter(x[:, 0], x[:, 1], c=y[:, 0], s=4, cmap="coolwarm")
        ax.set_title(f"{title}: {float(accuracy(p, x, y)):.2f}", fontsize=9)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(1, 5, 5)
    ax.plot(evolved.history.nfev, 1 - np.minimum.accumulate(evolved.history.best), label="GA")
    ax.set_xlabel("f evaluations")
    ax.set_ylabel("best accuracy")
    ax.set_title("genetic algorithm", fontsize=9)
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "perceptron_gradient_free.png", dpi=120)


def main() -> None:
    smooth_fit()
    perceptrons()


if __name__ == "__main__":
    main()
