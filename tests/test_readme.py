"""The README's research-script snippets run as written, and say what they claim."""

import re

import jax
import numpy as np

from tests.support import ROOT

README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_research_snippets_run_and_their_claims_hold():
    blocks = re.findall(r"```python\n(.*?)```", _section("In research scripts"), re.S)
    assert len(blocks) == 3
    scope: dict = {}
    # The README is for users, who run without strict promotion; the snippets run as they would.
    with jax.numpy_dtype_promotion("standard"):
        for block in blocks:
            exec(compile(block, "README.md", "exec"), scope)
        curves = np.asarray(scope["curves"])
        assert curves.shape == (8, 50) and np.all(np.isfinite(curves))
        assert curves[-2, -1] < curves[0, -1]  # a larger rate than 1e-3 gets further in 50 steps
        assert len(scope["result"].history) == 3
        # "equals jax.grad of the whole model": check the chained hand-written pass.
        x, labels, head, loss, features = (scope[k] for k in ("x", "labels", "head", "loss", "features"))
        model0 = {"embed": jax.random.normal(jax.random.key(2), (64, 16)) * 0.1, "head": head.init(jax.random.key(3))}
        want = jax.grad(lambda m: loss(head.apply(m["head"], features(m["embed"], x[:32])), labels[:32]))(model0)
        h, pullback = jax.vjp(lambda e: features(e, x[:32]), model0["embed"])
        _, (head_grads, dl_dh) = scope["backprop"].loss_and_grad(head, loss, model0["head"], h, labels[:32],
                                                                 wrt_input=True)
        got = {"embed": pullback(dl_dh)[0], "head": head_grads}
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_the_tour_runs_through_the_face_and_its_figures_are_sane():
    (block,) = re.findall(r"```python\n(.*?)```", _section("A quick tour"), re.S)
    assert "fnnet.fit(" in block and "fnnet.fit_many(" in block and "fnnet.search(" in block
    scope: dict = {}
    with jax.numpy_dtype_promotion("standard"):
        exec(compile(block, "README.md", "exec"), scope)
    result, many, found = scope["result"], scope["many"], scope["found"]
    assert 1 <= len(result.history) <= 30 and scope["report"].worst("backprop") < 1e-4
    fnnet, net, loss, x, labels = (scope[k] for k in ("fnnet", "net", "loss", "x", "labels"))
    assert fnnet.evaluate(net, loss, result.params, (x, labels))["accuracy"] > 0.95
    assert fnnet.ensemble_accuracy(net, many.params, x, labels) > 0.9 and len(many.histories) == 8
    assert found.best.candidate.kind in ("dense", "conv") and len(found.generations) == 2
    cnn, trained, images = scope["cnn"], scope["trained"], scope["images"]
    assert fnnet.evaluate(cnn, loss, trained.params, (images, labels))["accuracy"] > 0.95


def test_the_convolution_snippet_builds_the_shapes_it_shows():
    (block,) = re.findall(r"```python\n(.*?)```", _section("Convolutional networks"), re.S)
    scope: dict = {}
    exec(compile(block, "README.md", "exec"), scope)
    shown = re.search(r"net\.shapes\s+# (.*)\n", block).group(1)
    assert str(scope["net"].shapes) == shown
    assert scope["signal"].shapes[-1] == (4,)
