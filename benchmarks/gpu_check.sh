#!/bin/bash
# The CUDA check, in one go, from the repository root of a machine with a GPU and a CUDA build of
# PyTorch (it installs nothing: such machines often cannot reach a package index):
#
#   bash benchmarks/gpu_check.sh            # PYTHON=... to choose the interpreter, OUT=... for the JSON
#
# 1. what the machine is (nvidia-smi, torch, CUDA, cuDNN);
# 2. the CUDA tests, which skip on a CPU-only machine (tests/test_device.py: a model trained on the
#    GPU serves on the CPU and the reverse), if pytest is there;
# 3. benchmarks/gpu_check.py: the medium configuration's tokens/s on CUDA and on the CPU, PyTorch's
#    word_language_model/main.py on the same GPU and data, the fused output layer against torch's.
# Data: benchmarks/data/wikitext-2 (copy /work/shared/corpora/wikitext-2 there first when the
# machine has no /work/shared), or $NEXTWORD_BENCH_DATA. About 5 minutes in all.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-/tmp}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export NEXTWORD_HOME="${NEXTWORD_HOME:-$(mktemp -d)}"  # models the check trains stay out of the user's folder

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "nvidia-smi: not found"
"$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'available', torch.cuda.is_available(), 'cuDNN', torch.backends.cudnn.version())" \
    || { echo "no PyTorch for $PY: set PYTHON to an interpreter with a CUDA build of torch"; exit 1; }
"$PY" -c "import numpy, safetensors, platformdirs" \
    || { echo "the engine needs numpy, safetensors and platformdirs beside torch"; exit 1; }

if "$PY" -c "import pytest" 2>/dev/null; then
    timeout 300 "$PY" -m pytest -q -p no:cacheprovider tests/test_device.py tests/test_prepared.py
else
    echo "pytest not installed: the CUDA tests are skipped"
fi
timeout 540 "$PY" benchmarks/gpu_check.py --seconds 45 --cpu-seconds 30 --json "$OUT/gpu_check.json"
