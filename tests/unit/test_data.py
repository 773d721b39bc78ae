"""Dataset readers: tiny synthetic MNIST / CIFAR-10 / CelebA folders, every error path, and the real
Fashion-MNIST when Debian's dataset-fashion-mnist is installed."""

import contextlib
import gzip
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from neurovae.data import DATASETS, DataError, default_root, load_dataset
from neurovae.data.datasets import FASHION_MNIST_ROOT

RNG = np.random.default_rng(0)
TRAIN_IMAGES = RNG.integers(0, 256, (7, 28, 28), dtype=np.uint8)
TRAIN_LABELS = np.array([3, 1, 4, 1, 5, 9, 2], dtype=np.uint8)
TEST_IMAGES = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)
TEST_LABELS = np.array([6, 5, 3], dtype=np.uint8)
CIFAR_BATCH = 4
CROP_COLOUR = (200, 100, 50)


@contextlib.contextmanager
def data_error(*fragments):
    """Expect a one-line DataError whose message contains every fragment."""
    with pytest.raises(DataError) as info:
        yield
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def idx_bytes(array, magic=None):
    magic = 0x800 + array.ndim if magic is None else magic
    dims = np.array(array.shape, dtype=">u4").tobytes()
    return magic.to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes()


def write(path, data, gz=False):
    path = path.with_name(path.name + ".gz") if gz else path
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture(params=[False, True], ids=["plain", "gz"])
def mnist_dir(tmp_path, request):
    for name, array in [
        ("train-images-idx3-ubyte", TRAIN_IMAGES),
        ("train-labels-idx1-ubyte", TRAIN_LABELS),
        ("t10k-images-idx3-ubyte", TEST_IMAGES),
        ("t10k-labels-idx1-ubyte", TEST_LABELS),
    ]:
        write(tmp_path / name, idx_bytes(array), gz=request.param)
    return tmp_path


def idx_path(folder, name):
    return next(folder.glob(name + "*"))


@pytest.fixture
def cifar_root(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for index, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        data = RNG.integers(0, 256, (CIFAR_BATCH, 3072), dtype=np.uint8)
        labels = [(index + j) % 10 for j in range(CIFAR_BATCH)]
        (folder / name).write_bytes(pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"x"}))
    return tmp_path


@pytest.fixture
def celeba_root(tmp_path):
    """Five 178 x 218 JPEGs, black outside the 148 x 148 centre crop, split 3 / 1 / 1."""
    images = tmp_path / "img_align_celeba"
    images.mkdir()
    pixels = np.zeros((218, 178, 3), dtype=np.uint8)
    pixels[35:183, 15:163] = CROP_COLOUR
    for number in range(1, 6):
        Image.fromarray(pixels).save(images / f"{number:06d}.jpg", quality=95, subsampling=0)
    codes = [0, 0, 0, 1, 2]
    lines = [f"{number:06d}.jpg {code}" for number, code in enumerate(codes, start=1)]
    (tmp_path / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


# --- MNIST-format (IDX) -------------------------------------------------------------------------------


def test_mnist_shapes_range_and_labels(mnist_dir):
    train = load_dataset("mnist", mnist_dir, "train")
    assert len(train) == 7 and train.images.shape == (7, 1, 32, 32) and train.images.dtype == torch.float32
    assert -1 <= train.images.min() < 0 < train.images.max() <= 1
    assert (train.num_classes, train.channels, train.image_size) == (10, 1, 32)
    image, label = train[5]
    assert image.shape == (1, 32, 32) and type(label) is int and label == 9
    test = load_dataset("fashion_mnist", str(mnist_dir), "test")
    assert [test[i][1] for i in range(len(test))] == TEST_LABELS.tolist()


def test_native_size_is_exact_signed_scaling(mnist_dir):
    images = load_dataset("mnist", mnist_dir, "train", image_size=28).images
    expected = torch.from_numpy(TRAIN_IMAGES).float()[:, None] / 255 * 2 - 1
    torch.testing.assert_close(images, expected)


def test_resize_to_32_matches_pillow_bilinear(mnist_dir):
    images = load_dataset("mnist", mnist_dir, "train").images
    pillow = np.stack([np.asarray(Image.fromarray(a).resize((32, 32), Image.BILINEAR)) for a in TRAIN_IMAGES])
    expected = torch.from_numpy(pillow).float()[:, None] / 255 * 2 - 1
    assert (images - expected).abs().max() <= 2.5 / 255


def test_limit_takes_the_first_items(mnist_dir):
    full = load_dataset("mnist", mnist_dir, "train")
    part = load_dataset("mnist", mnist_dir, "train", limit=4)
    assert len(part) == 4 and torch.equal(part.images, full.images[:4])


def test_default_root():
    assert default_root("fashion_mnist") == FASHION_MNIST_ROOT
    assert [default_root(name) for name in ("mnist", "cifar10", "celeba")] == [None, None, None]


def test_data_error_is_one_line():
    assert str(DataError("first\n  second")) == "first second"


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"name": "svhn"}, ["'svhn'", ", ".join(DATASETS)]),
        ({"split": "valid"}, ["'valid'", "train, test"]),
        ({"limit": 0}, ["limit", "positive"]),
        ({"image_size": -3}, ["image_size", "positive"]),
        ({"root": None}, ["no default folder", "--data DIR", "train-images-idx3-ubyte"]),
        ({"root": "/nonexistent/mnist"}, ["/nonexistent/mnist", "--data DIR"]),
        ({"name": "fashion_mnist", "root": "/nonexistent"}, ["apt-get install dataset-fashion-mnist"]),
    ],
)
def test_bad_arguments(kwargs, fragments, mnist_dir):
    args = {"name": "mnist", "root": mnist_dir, "split": "train"} | kwargs
    with data_error(*fragments):
        load_dataset(**args)


def test_missing_idx_file(mnist_dir):
    idx_path(mnist_dir, "t10k-labels-idx1-ubyte").unlink()
    load_dataset("mnist", mnist_dir, "train")
    with data_error("t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz) not found", "plain or .gz"):
        load_dataset("mnist", mnist_dir, "test")


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_wrong_magic(tmp_path, gz):
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(TRAIN_IMAGES, magic=0x801), gz=gz)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(TRAIN_LABELS), gz=gz)
    with data_error("train-images-idx3-ubyte", "magic 0x00000801", "0x00000803 was expected"):
        load_dataset("mnist", tmp_path, "train")


@pytest.mark.parametrize(
    ("cut", "fragments"), [(5, ["expected 5504 bytes", "found 5499"]), (5500, ["at least 16", "found 4"])]
)
def test_truncated_idx(mnist_dir, cut, fragments):
    path = idx_path(mnist_dir, "train-images-idx3-ubyte")
    data = idx_bytes(TRAIN_IMAGES)[:-cut]
    write(path.with_suffix(""), data, gz=path.suffix == ".gz")
    with data_error(str(path), "truncated", *fragments):
        load_dataset("mnist", mnist_dir, "train")


def test_count_mismatch(mnist_dir):
    path = idx_path(mnist_dir, "train-labels-idx1-ubyte")
    write(path.with_suffix(""), idx_bytes(TRAIN_LABELS[:6]), gz=path.suffix == ".gz")
    with data_error("holds 7 images", "holds 6 labels"):
        load_dataset("mnist", mnist_dir, "train")


def test_label_out_of_range(mnist_dir):
    path = idx_path(mnist_dir, "t10k-labels-idx1-ubyte")
    write(path.with_suffix(""), idx_bytes(np.array([1, 2, 10])), gz=path.suffix == ".gz")
    with data_error("labels outside 0..9"):
        load_dataset("mnist", mnist_dir, "test")


@pytest.mark.parametrize("damage", ["garbage", "cut"])
def test_corrupt_gzip(tmp_path, damage):
    compressed = gzip.compress(idx_bytes(TRAIN_IMAGES))
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        b"not gzip at all" if damage == "garbage" else compressed[: len(compressed) // 2]
    )
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(TRAIN_LABELS))
    with data_error("corrupt gzip file", "train-images-idx3-ubyte.gz"):
        load_dataset("mnist", tmp_path, "train")


# --- CIFAR-10 -----------------------------------------------------------------------------------------


def test_cifar_both_folder_layouts(cifar_root):
    for root in (cifar_root, cifar_root / "cifar-10-batches-py"):
        train = load_dataset("cifar10", root, "train")
        assert len(train) == 5 * CIFAR_BATCH and train.images.shape == (20, 3, 32, 32)
        assert (train.num_classes, train.channels, train.image_size) == (10, 3, 32)
    test = load_dataset("cifar10", cifar_root, "test")
    raw = pickle.loads((cifar_root / "cifar-10-batches-py" / "test_batch").read_bytes())
    expected = torch.from_numpy(raw[b"data"]).float().reshape(-1, 3, 32, 32) / 255 * 2 - 1
    torch.testing.assert_close(test.images, expected)
    assert [test[i][1] for i in range(len(test))] == raw[b"labels"]
    assert load_dataset("cifar10", cifar_root, "test", image_size=16).images.shape == (4, 3, 16, 16)


def test_cifar_limit_reads_only_the_batches_needed(cifar_root):
    (cifar_root / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"broken")
    train = load_dataset("cifar10", cifar_root, "train", limit=CIFAR_BATCH + 1)
    assert len(train) == CIFAR_BATCH + 1 and train[CIFAR_BATCH][1] == 1


def test_cifar_missing_batch(cifar_root):
    (cifar_root / "cifar-10-batches-py" / "data_batch_4").unlink()
    with data_error("data_batch_4 not found", "cifar-10-batches-py/"):
        load_dataset("cifar10", cifar_root, "train")


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"\x00 not a pickle", "unpickling failed"),
        (pickle.dumps([1, 2, 3]), "b'data' uint8 (N, 3072)"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": [0, 1]}), "b'labels'"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}), "values in 0..9"),
    ],
)
def test_not_a_cifar_batch(cifar_root, content, fragment):
    (cifar_root / "cifar-10-batches-py" / "test_batch").write_bytes(content)
    with data_error("test_batch is not a CIFAR-10 python batch", fragment):
        load_dataset("cifar10", cifar_root, "test")


# --- CelebA -------------------------------------------------------------------------------------------


def test_celeba_splits_crop_and_resize(celeba_root):
    sizes = {split: len(load_dataset("celeba", celeba_root, split)) for split in ("train", "valid", "test")}
    assert sizes == {"train": 3, "valid": 1, "test": 1}
    train = load_dataset("celeba", celeba_root, "train")
    assert train.images is None and (train.num_classes, train.channels, train.image_size) == (1, 3, 64)
    image, label = train[2]
    assert image.shape == (3, 64, 64) and image.dtype == torch.float32 and label == 0
    # Only the coloured centre survives the 148 x 148 crop: no black border is left.
    colour = torch.tensor(CROP_COLOUR, dtype=torch.float32)[:, None, None] / 255 * 2 - 1
    assert (image - colour).abs().max() < 0.05
    assert load_dataset("celeba", celeba_root, "test", image_size=32)[0][0].shape == (3, 32, 32)
    assert len(load_dataset("celeba", celeba_root, "train", limit=2)) == 2


def test_celeba_torchvision_layout(celeba_root, tmp_path_factory):
    parent = tmp_path_factory.mktemp("parent")
    celeba_root.rename(parent / "celeba")
    assert len(load_dataset("celeba", parent, "train")) == 3


def test_celeba_missing_partition_file(celeba_root):
    (celeba_root / "list_eval_partition.txt").unlink()
    with data_error("list_eval_partition.txt not found", "img_align_celeba/"):
        load_dataset("celeba", celeba_root, "train")


def test_celeba_malformed_partition_line(celeba_root):
    (celeba_root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg train\n")
    with data_error("line 2", "<image>.jpg <0|1|2>"):
        load_dataset("celeba", celeba_root, "train")


def test_celeba_missing_images(celeba_root):
    (celeba_root / "img_align_celeba" / "000002.jpg").unlink()
    train = load_dataset("celeba", celeba_root, "train")  # images after the first are checked lazily
    with data_error("000002.jpg", "listed in list_eval_partition.txt", "missing"):
        train[1]
    (celeba_root / "img_align_celeba" / "000004.jpg").unlink()
    with data_error("000004.jpg", "missing"):
        load_dataset("celeba", celeba_root, "valid")


def test_celeba_corrupt_image(celeba_root):
    (celeba_root / "img_align_celeba" / "000005.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with data_error("cannot decode CelebA image", "000005.jpg"):
        load_dataset("celeba", celeba_root, "test")[0]


def test_celeba_split_names(celeba_root):
    with data_error("'validation'", "train, valid, test"):
        load_dataset("celeba", celeba_root, "validation")


# --- the real Fashion-MNIST ---------------------------------------------------------------------------


@pytest.mark.skipif(not FASHION_MNIST_ROOT.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist():
    for split, size in (("train", 60000), ("test", 10000)):
        data = load_dataset("fashion_mnist", None, split)
        assert len(data) == size and data.images.shape == (size, 1, 32, 32)
        assert data.labels.min() == 0 and data.labels.max() == 9
        assert torch.bincount(data.labels).tolist() == [size // 10] * 10
        assert -1 <= data.images.min() and data.images.max() <= 1
