"""The notes' second example: a 2-5-1 sigmoid network learns XOR.

Plain SGD (η = 0.5) on one example at a time, squared error, as in the notes' code;
2,500 epochs of 4 updates run as one compiled program.
"""

import jax

import fnnet
from fnnet import data, losses, optim

NET = fnnet.Network(2, (fnnet.Dense(5, "sigmoid"), fnnet.Dense(1, "sigmoid")))


def main(seed: int = 0, epochs: int = 2500):
    x, labels = data.xor()
    params = NET.init(jax.random.key(seed))
    result = fnnet.fit(NET, losses.squared_error("sum"), optim.sgd(0.5), params, (x, labels),
                       key=jax.random.key(seed + 1), epochs=epochs, batch_size=1)
    y = NET.apply(result.params, x)
    for xi, yi, ti in zip(x, y, labels):
        print(f"{xi.astype(int)} -> {float(yi[0]):.4f} (target {ti})")
    accuracy = float(losses.accuracy(y, labels))
    print(f"accuracy {accuracy:.0%} after {result.history[-1]['step']} updates, "
          f"E_total {float(losses.squared_error('sum')(y, labels)):.2e}")
    return accuracy, result


if __name__ == "__main__":
    main()
