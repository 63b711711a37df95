#!/usr/bin/env bash
# Installs spectrogen and everything it needs into the active Python environment.
#
#   bash install.sh            # core, TensorBoard and test tools
#   EXTRAS=all bash install.sh # also TensorBoard and PESQ/STOI
#
# PyTorch comes first so that pip never swaps it: a machine with an NVIDIA driver gets the
# regular (CUDA) build from PyPI, any other machine the CPU-only build, which is a few hundred MB
# instead of several GB. An already installed torch is kept as it is.
set -euo pipefail
PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")"

if "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "install.sh: keeping installed torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "install.sh: NVIDIA GPU found, installing the CUDA build of torch"
    "$PYTHON" -m pip install torch
else
    echo "install.sh: no NVIDIA GPU, installing the CPU build of torch"
    # --isolated: only PyTorch's CPU index, so that an extra index or wheel folder configured in the
    # environment cannot offer a newer CUDA build (several GB) that pip would prefer; offline, a CPU
    # build that the configured indexes or wheel folders hold (a "+cpu" release) is taken instead
    "$PYTHON" -m pip install --isolated torch --index-url https://download.pytorch.org/whl/cpu --retries 1 --timeout 20 \
        || "$PYTHON" -m pip install "torch==${TORCH_CPU_VERSION:-2.13.0}+cpu" \
        || { echo "install.sh: no CPU build of torch found; installing the default build"; "$PYTHON" -m pip install torch; }
fi

case "${EXTRAS:-dev,tensorboard}" in
    all) extras="dev,tensorboard,speech" ;;
    *) extras="${EXTRAS:-dev,tensorboard}" ;;
esac
"$PYTHON" -m pip install -e ".[${extras}]"
echo "install.sh: done. Try: spectrogen demo"
