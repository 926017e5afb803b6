"""A network of perceptrons (step activations) cannot learn by gradients; mutation and
selection train it.

The step function's derivative is zero wherever it exists, so backprop gives exactly zero
gradients for every weight below the output layer: Adam moves only the output layer and the
hidden "features" stay as they were initialised. A gradient-free search — here the lecture's
genetic recipe in its simplest form: mutate θ ← θ(1 + ηξ) + τξ′, keep the fittest, repeat, with
the whole population evaluated at once under vmap — trains every layer.

Run:  python examples/perceptron_gradient_free.py   (writes a PNG under examples/figures/)
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from matplotlib.figure import Figure

from jaxmin import nn, optim

OUT = Path(__file__).parent / "figures"
SIZES = [2, 12, 1]


def circle_data(key, n=400):
    """Points in [−1, 1]², labelled 1 inside the circle of radius 0.6."""
    x = jax.random.uniform(key, (n, 2), minval=-1, maxval=1)
    return x, (jnp.sum(x**2, axis=1, keepdims=True) < 0.36).astype(x.dtype)


def accuracy(params, x, y):
    """Fraction of points on the right side of the output's zero."""
    logits = nn.forward(params, x, activation="step")
    return jnp.mean((logits > 0) == (y > 0.5))


def evolve(key, params, x, y, *, popsize=256, generations=400, keep=32, eta=0.1, tau=0.05):
    """Truncation selection with elitism and multiplicative + additive Gaussian mutation."""
    flat, unravel = ravel_pytree(params)

    def fitness(theta):
        return 1.0 - accuracy(unravel(theta), x, y)

    def mutate(key, theta):
        k1, k2 = jax.random.split(key)
        xi, xi2 = jax.random.normal(k1, theta.shape), jax.random.normal(k2, theta.shape)
        return theta * (1 + eta * xi) + tau * xi2  # additive part: a zero weight can move too

    def generation(population, key):
        scores = jax.vmap(fitness)(population)
        parents = population[jnp.argsort(scores)[:keep]]
        k_pick, k_mut = jax.random.split(key)
        picks = jax.random.randint(k_pick, (popsize - 1,), 0, keep)
        children = jax.vmap(mutate)(jax.random.split(k_mut, popsize - 1), parents[picks])
        return jnp.concatenate([parents[:1], children]), jnp.min(scores)

    start = jax.vmap(mutate)(
        jax.random.split(key, popsize), jnp.broadcast_to(flat, (popsize,) + flat.shape)
    )
    population, best = jax.lax.scan(generation, start, jax.random.split(key, generations))
    scores = jax.vmap(fitness)(population)
    return unravel(population[jnp.argmin(scores)]), 1.0 - best


def main() -> None:
    x, y = circle_data(jax.random.key(0))
    params = nn.init_mlp(jax.random.key(1), SIZES, init="normal")
    trained = nn.train(
        params,
        x,
        y,
        key=jax.random.key(2),
        activation="step",
        loss="binary_cross_entropy",
        optimizer=optim.adam(1e-2),
        epochs=2000,
    )
    hidden_moved = float(jnp.max(jnp.abs(trained.params[0]["W"] - params[0]["W"])))
    print(f"backprop + Adam: hidden weights moved by {hidden_moved:g} (the gradient is 0)")
    print(f"backprop + Adam: accuracy {float(accuracy(trained.params, x, y)):.3f}")
    evolved, history = evolve(jax.random.key(3), params, x, y)
    print(f"mutation + selection: accuracy {float(accuracy(evolved, x, y)):.3f}")

    fig = Figure(figsize=(11, 3.8), layout="constrained")
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 200), np.linspace(-1, 1, 200)), -1)
    panels = (("initial", params), ("backprop + Adam", trained.params), ("evolved", evolved))
    for i, (title, p) in enumerate(panels):
        ax = fig.add_subplot(1, 4, i + 1)
        inside = nn.forward(p, grid.reshape(-1, 2), activation="step").reshape(200, 200) > 0
        ax.contourf(grid[..., 0], grid[..., 1], inside, levels=[-0.5, 0.5, 1.5], cmap="Pastel1")
        ax.scatter(x[:, 0], x[:, 1], c=y[:, 0], s=4, cmap="coolwarm")
        ax.set_title(f"{title}: {float(accuracy(p, x, y)):.2f}", fontsize=9)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    ax = fig.add_subplot(1, 4, 4)
    ax.plot(np.asarray(history))
    ax.set_xlabel("generation")
    ax.set_ylabel("best accuracy")
    ax.set_title("mutation + selection", fontsize=9)
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / "perceptron_gradient_free.png", dpi=120)


if __name__ == "__main__":
    main()
