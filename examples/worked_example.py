"""The notes' worked backpropagation example, figure by figure (float64).

The 2-2-2 sigmoid network with w1..w8 = .15 .. .55 and fixed biases .35 / .60, input
(.05, .10), target (.01, .99), squared error, η = 0.5: the forward pass, E_total, every
∂E/∂w, the updated weights, and the error after 1 and 10,000 updates (gradient descent,
the notes' code order, and biases trained too). Same as `fnnet worked-example`.
"""

from fnnet import worked_example


def main():
    figures = worked_example.report()
    print(worked_example.format_report(figures))
    return figures


if __name__ == "__main__":
    main()
