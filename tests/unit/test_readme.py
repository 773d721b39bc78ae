"""The README's "Python API" example runs as written, and the public API is what it says."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import neurovae

README = Path(__file__).resolve().parents[2] / "README.md"


def api_example() -> str:
    """The first ``python`` block of the README's "Python API" section."""
    section = README.read_text().split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_api_example_runs(tmp_path, monkeypatch):
    code = api_example()
    if importlib.util.find_spec("lava") is None:
        code = "\n".join(line for line in code.splitlines() if "neurovae.run_lava(" not in line)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)  # the README's own code
    assert (tmp_path / "toy.net").is_file() and (tmp_path / "toy.nir").is_file()
    if "on_lava" in namespace:
        last = namespace["last"]
        assert (namespace["on_lava"].spikes[last] == namespace["emulated"].spikes[last][:2]).all()


def test_import_neurovae_is_lazy_and_every_public_name_resolves():
    probe = "import sys, neurovae; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lava')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"  # neither torch nor Lava until a name is used
    for name in neurovae.__all__:
        assert callable(getattr(neurovae, name)), name
    assert "load_run" in dir(neurovae)
