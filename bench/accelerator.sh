#!/usr/bin/env bash
# The accelerator tables of bench/RESULTS.md, on a GPU machine whose Python has jax, optax
# and chex (fnnet runs from this checkout, uninstalled). Part "core": the h4096/h8192
# bfloat16 configurations and the structure search; part "conv": the vgg32/vgg64 bfloat16
# convolutional nets; part "ensemble": bench.ensemble. Each writes its JSON (and log) to
# OUTDIR; render with python -m bench.results.
#
#     bash bench/accelerator.sh OUTDIR [core|conv|ensemble|all]
set -u
out=${1:?usage: bash bench/accelerator.sh OUTDIR [core|conv|ensemble|all]}
part=${2:-all}
mkdir -p "$out"
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
# The peers (PyTorch above all) share the card with JAX: no up-front grab of 75% of it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
py=${PYTHON:-python3}
if [ "$part" = all ] || [ "$part" = core ]; then
    nvidia-smi -L
    $py -c "import jax, optax, chex; print('jax', jax.__version__, 'optax', optax.__version__, jax.devices())"
    timeout 250 $py -m bench --config h4096 --config h8192 --json "$out/results-gpu.json" 2>&1 | tee "$out/bench.log"
    timeout 150 $py -m bench.search --json "$out/results-search-gpu.json" 2>&1 | tee "$out/search.log"
fi
if [ "$part" = all ] || [ "$part" = conv ]; then
    timeout 420 $py -m bench --config vgg32 --config vgg64 --json "$out/results-conv-gpu.json" 2>&1 | tee "$out/conv.log"
fi
if [ "$part" = all ] || [ "$part" = ensemble ]; then
    timeout 240 $py -m bench.ensemble --json "$out/results-ensemble-gpu.json" 2>&1 | tee "$out/ensemble.log"
fi
