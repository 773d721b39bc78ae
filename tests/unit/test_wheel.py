"""A built wheel installed outside the repository finds what ships inside the package.

Energy profiles, target profiles and the configs (the demo's among them) are read through ``importlib.resources``;
this test builds the wheel, installs it into a temporary folder and uses them from another working directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel, built from the checkout (no network: the venv's setuptools) and installed without dependencies."""
    folder = tmp_path_factory.mktemp("wheel")
    source = folder / "source"  # a copy of what the wheel is built from, so that the build leaves the checkout clean
    shutil.copytree(REPO / "neurovae", source / "neurovae", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(folder / "dist"), str(source)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (folder / "dist").glob("neurovae-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "neurovae/configs/esvae_fmnist_small.yaml" in names and "neurovae/profiles/energy/loihi1.yaml" in names
    site = folder / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                              str(wheel)], capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stderr[-3000:]
    return site


def _python(site: Path, cwd: Path, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_installed_wheel_reads_its_profiles_and_configs_from_anywhere(installed, tmp_path):
    out = _python(installed, tmp_path, """
import neurovae, numpy as np
from neurovae.cli.demo import CONFIGS
from neurovae.cli.main import main
from neurovae.config import load_config
from neurovae.energy import load_profile
from neurovae.netx import CubaNeuron, DenseLayer, InputLayer, NetworkRecord, write_netx
print("package", neurovae.__file__)
print("profile", load_profile("loihi1").name)
print("demo", load_config(CONFIGS / "esvae_fmnist_small.yaml").model_name)
print("named", load_config("esvae_fmnist").train.batch_size)
net = NetworkRecord(layers=(InputLayer((4,)), DenseLayer(np.ones((2, 4)), CubaNeuron(vThMant=64))), precision="fixed")
write_netx(net, "net.net")
main(["inspect", "net.net", "--target", "loihi2_sim_fixed"])
""")
    assert f"package {installed}" in out and str(REPO) not in out.split("package ")[1].splitlines()[0]
    assert "profile loihi1" in out and "demo esvae" in out and "named 256" in out
    assert "target loihi2_sim_fixed" in out
