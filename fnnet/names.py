"""Names that several parts of fnnet check against, in one module that imports nothing:
the command's settings and the structure search's space (which must not wait for JAX)
check the same names as ``fnnet.optim`` and the training step."""

#: The optimizers ``fnnet.optim.optimizer`` builds by name.
OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam")

#: Adagrad as the notes write it, or as optax has it (``fnnet.optim.adagrad(form=)``).
ADAGRAD_FORMS = ("notes", "optax")

#: Where a training step takes its gradient from: ``jax.grad``, or the hand-written pass.
GRADS = ("autodiff", "backprop")
