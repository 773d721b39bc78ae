#!/usr/bin/env bash
# One-command, idempotent set-up: a Python 3.10 virtual environment in .venv with neurovae, Lava and the
# test tools, plus Debian's Fashion-MNIST when apt is there and the data is missing. Safe to re-run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1  # lava-dl imports it (its object-detection utilities load with slayer)
stamp="$venv/.neurovae-installed"

find_python310() {
    local candidate
    for candidate in python3.10 /root/.pyenv/versions/3.10*/bin/python3 "$HOME"/.pyenv/versions/3.10*/bin/python3 \
                     /usr/bin/python3.10 /usr/local/bin/python3.10; do
        if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
            command -v "$candidate" || echo "$candidate"; return 0
        fi
    done
    return 1
}

install_fashion_mnist() {
    local data=/usr/share/datasets/fashion-mnist
    if ls "$data"/train-images-idx3-ubyte* >/dev/null 2>&1; then return 0; fi
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "neurovae setup: installing Debian's dataset-fashion-mnist into $data"
        apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null; } \
            || echo "neurovae setup: could not install dataset-fashion-mnist; pass --data DIR with the Fashion-MNIST IDX files"
    else
        echo "neurovae setup: Fashion-MNIST not found in $data; install Debian's dataset-fashion-mnist or pass --data DIR"
    fi
}

install_fashion_mnist

if [ -f "$stamp" ] && [ "$stamp" -nt "$root/pyproject.toml" ] && [ "$stamp" -nt "$root/deploy/setup.sh" ]; then
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    py=$(find_python310) || {
        echo "neurovae setup: Python 3.10 not found (lava-nc 0.10 and lava-dl 0.6 need it)." \
             "Install it (e.g. 'apt install python3.10-venv' or 'pyenv install 3.10') and re-run deploy/setup.sh." >&2
        exit 1
    }
    echo "neurovae setup: creating $venv with $py"
    "$py" -m venv "$venv"
fi
echo "neurovae setup: installing torch, neurovae[test,nir,search], lava-nc, lava-dl and neurobench into $venv (first time: a few minutes)"
"$venv/bin/python" -m pip install -q --upgrade pip
# lava-dl 0.6 declares torch <2.4, but none of the code neurovae uses needs that pin, and torch.compile only
# traces these spiking models into one graph on a recent torch (torch 2.3 broke it at every surrogate call).
# So torch comes first, at the version above, then lava-nc, then lava-dl without its dependency pins (its other
# run-time needs are listed).
"$venv/bin/python" -m pip install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
"$venv/bin/python" -m pip install -q -e "$root[test,nir,search]" "lava-nc==0.10.0" "numpy<2" "matplotlib<4" "pillow<11" "opencv-python-headless<5"
"$venv/bin/python" -m pip install -q --no-deps "lava-dl==0.6.0"
# NeuroBench's metrics and models import only torch, snntorch and tqdm; its declared dependencies (torchaudio,
# librosa, tonic, numba: ~200 MB) serve its datasets, so the comparison test gets it without them.
"$venv/bin/python" -m pip install -q --no-deps "neurobench==2.3.0"
touch "$stamp"
echo "neurovae setup: done"
