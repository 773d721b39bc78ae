import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image
from torch.utils.data import TensorDataset

from neurovae.errors import CheckpointError, NeurovaeError
from neurovae.evaluate import (
    FADAutoencoder,
    encode_images,
    fad,
    fit_fad_autoencoder,
    frechet_distance,
    linear_probe_accuracy,
    load_fad_autoencoder,
    mse,
    psnr,
    save_comparison_grid,
    save_fad_autoencoder,
    save_image_grid,
    ssim,
)


def _images(n=8, c=1, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, c, size, size, generator=g) * 2 - 1


# --- quality -----------------------------------------------------------------------------------------


def test_mse_is_on_minus_one_one_scale():
    target = torch.zeros(2, 1, 8, 8)
    assert mse(target + 0.2, target) == pytest.approx(0.04)


def test_psnr_identical_is_infinite():
    x = _images()
    assert math.isinf(psnr(x, x)) or psnr(x, x) > 100


def test_psnr_matches_hand_computation():
    target = torch.zeros(2, 1, 16, 16)
    # 0.25 on [-1, 1] is 0.125 on [0, 1]: MSE 1/64 -> 10 log10(64) dB
    assert psnr(target + 0.25, target) == pytest.approx(10 * math.log10(64), abs=1e-5)

    x = _images(4, 3, 32, seed=1).clamp(-0.8, 0.8)
    noise = 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    y = (x + noise).clamp(-1, 1)
    per_image_mse = (((x + 1) / 2 - (y + 1) / 2) ** 2).double().mean(dim=(1, 2, 3))
    expected = (10 * torch.log10(1 / per_image_mse)).mean().item()
    assert psnr(y, x) == pytest.approx(expected, rel=1e-6)


def test_ssim_identical_is_one_and_noise_lowers_it():
    x = torch.nn.functional.avg_pool2d(_images(4, 3, 64), 3, 1, 1)  # smooth images
    noisy = (x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(3))).clamp(-1, 1)
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-6)
    assert ssim(noisy, x) < 0.9
    assert ssim(noisy, x, batch_size=1) == pytest.approx(ssim(noisy, x), abs=1e-9)


def test_quality_rejects_mismatched_shapes():
    with pytest.raises(NeurovaeError, match="does not match"):
        psnr(torch.zeros(2, 1, 8, 8), torch.zeros(3, 1, 8, 8))


# --- Fréchet distance --------------------------------------------------------------------------------


def _whitened(n, d, seed):
    """n samples whose sample mean is exactly 0 and sample covariance exactly I."""
    z = np.random.default_rng(seed).standard_normal((n, d))
    z -= z.mean(axis=0)
    chol = np.linalg.cholesky(np.cov(z, rowvar=False))
    return z @ np.linalg.inv(chol).T


def test_frechet_of_a_set_with_itself_is_zero():
    mixing = np.random.default_rng(1).standard_normal((16, 16))
    a = np.random.default_rng(0).standard_normal((500, 16)) @ mixing
    assert abs(frechet_distance(a, a)) < 1e-6


def test_frechet_matches_closed_form_for_diagonal_gaussians():
    d = 6
    mu_a, mu_b = np.arange(d, dtype=float), np.ones(d)
    var_a, var_b = np.linspace(0.5, 3.0, d), np.linspace(4.0, 1.0, d)
    a = _whitened(400, d, 0) * np.sqrt(var_a) + mu_a
    b = _whitened(300, d, 1) * np.sqrt(var_b) + mu_b
    expected = np.sum((mu_a - mu_b) ** 2) + np.sum((np.sqrt(var_a) - np.sqrt(var_b)) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_singular_covariance_is_finite_and_shapes_checked():
    rng = np.random.default_rng(0)
    value = frechet_distance(rng.standard_normal((5, 12)), rng.standard_normal((5, 12)))
    assert math.isfinite(value) and value > 0
    with pytest.raises(NeurovaeError):
        frechet_distance(np.zeros((10, 3)), np.zeros((10, 4)))


# --- FAD autoencoder ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_fad():
    data = TensorDataset(_images(16, 1, 32), torch.zeros(16, dtype=torch.long))
    return fit_fad_autoencoder(data, 1, 32, latent_dim=8, epochs=1, batch_size=8, progress=False)


def test_fad_autoencoder_shapes_for_32_and_64():
    for channels, size, latent in ((1, 32, 64), (3, 64, 128)):
        model = FADAutoencoder(channels, size, latent).eval()
        x = _images(2, channels, size)
        assert model.encode(x).shape == (2, latent)
        out = model(x)
        assert out.shape == x.shape and out.abs().max() <= 1
    with pytest.raises(NeurovaeError, match="power-of-two"):
        FADAutoencoder(1, 28, 8)


def test_fit_is_deterministic_and_records_metadata(tiny_fad):
    data = TensorDataset(_images(16, 1, 32), torch.zeros(16, dtype=torch.long))
    again = fit_fad_autoencoder(data, 1, 32, latent_dim=8, epochs=1, batch_size=8, progress=False)
    for p, q in zip(tiny_fad.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q)
    assert not tiny_fad.training
    assert tiny_fad.metadata["epochs"] == 1 and math.isfinite(tiny_fad.metadata["final_loss"])


def test_save_load_roundtrip(tiny_fad, tmp_path):
    path = tmp_path / "fad" / "fashion.pt"
    save_fad_autoencoder(tiny_fad, path, metadata={"dataset": "fashion"})
    loaded = load_fad_autoencoder(path)
    x = _images(4, 1, 32, seed=5)
    with torch.no_grad():
        assert torch.equal(loaded.encode(x), tiny_fad.encode(x))
    assert loaded.metadata["dataset"] == "fashion" and loaded.metadata["epochs"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["fashion.pt"]


@pytest.mark.parametrize("content", [b"not a checkpoint", None, "foreign"])
def test_load_bad_checkpoint_is_one_line_error(tmp_path, content):
    path = tmp_path / "fad.pt"
    if content == "foreign":
        torch.save({"state_dict": {}}, path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as info:
        load_fad_autoencoder(path)
    message = str(info.value)
    assert "\n" not in message and "neurovae fad-fit" in message


def test_fad_same_set_is_zero_and_shifted_set_is_larger(tiny_fad):
    real = _images(64, 1, 32, seed=7)
    assert abs(fad(tiny_fad, real, real, batch_size=16)) < 1e-6
    same_distribution = fad(tiny_fad, real, _images(64, 1, 32, seed=8))
    assert fad(tiny_fad, real, real * 0.2 - 0.7) > 5 * same_distribution > 0
    assert encode_images(tiny_fad, real, batch_size=10).shape == (64, 8)
    with pytest.raises(NeurovaeError, match="expects images"):
        fad(tiny_fad, real, _images(4, 3, 32))


# --- linear probe ------------------------------------------------------------------------------------


def test_probe_separable_is_perfect():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = rng.standard_normal((300, 10)) + 10.0 * np.eye(3, 10)[y]
    acc = linear_probe_accuracy(torch.as_tensor(x[:200]), torch.as_tensor(y[:200]), x[200:], y[200:])
    assert acc == pytest.approx(1.0)


def test_probe_random_labels_is_chance():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((3000, 20)), rng.integers(0, 10, 3000)
    acc = linear_probe_accuracy(x[:2000], y[:2000], x[2000:], y[2000:])
    assert 0.0 <= acc < 0.2


# --- grids -------------------------------------------------------------------------------------------


def test_image_grid_png_size(tmp_path):
    path = tmp_path / "grid.png"
    save_image_grid(_images(10, 1, 32), path, nrow=4)
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        # 4 columns x (32 + 2) + 2 padding pixels, 3 rows, zoom 4 for 32x32 images
        assert img.format == "PNG" and img.size == (4 * (4 * 34 + 2), 4 * (3 * 34 + 2))


@pytest.mark.parametrize("count", [1, 7, 13])
def test_image_grid_size_is_exact_for_any_count(tmp_path, count):
    save_image_grid(_images(count, 1, 32), tmp_path / "g.png", nrow=7)
    with Image.open(tmp_path / "g.png") as img:
        assert img.size == (4 * (min(count, 7) * 34 + 2), 4 * (-(-count // 7) * 34 + 2))


def test_image_grid_rgb_with_title_and_single_image(tmp_path):
    save_image_grid(_images(1, 3, 64), tmp_path / "one.png", title="sample")
    with Image.open(tmp_path / "one.png") as img:
        assert img.size[0] == 2 * (64 + 4) and img.size[1] > 2 * (64 + 4)


def test_comparison_grid_rows(tmp_path):
    path = tmp_path / "cmp.png"
    rows = {"input": _images(8, 1, 32), "reconstruction": _images(8, 1, 32, seed=1), "rgb": _images(3, 3, 32)}
    save_comparison_grid(rows, path, title="input vs reconstruction", ncol=6)
    with Image.open(path) as img:
        width, height = img.size
    assert height > 4 * (3 * 34 + 2) and width > 4 * (6 * 34 + 2)


def test_grids_leave_no_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "bad.png"
    with pytest.raises(NeurovaeError):
        save_image_grid(torch.zeros(4, 32, 32), path)
    with pytest.raises(NeurovaeError):
        save_comparison_grid({"a": _images(2, 1, 32), "b": _images(2, 1, 64)}, path)

    def broken_savefig(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError):
        save_image_grid(_images(2, 1, 32), path)
    assert list(tmp_path.iterdir()) == []
