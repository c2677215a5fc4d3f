"""Tasks: shapes, dtypes, splits, baselines, and the user's own data (files written here)."""

import numpy as np
import pytest

from imc.config import DenoiseTask, DigitsTask, ImageFolderTask, NpzTask, SuperResTask
from imc.tasks import load_task
from imc.tasks.base import psnr_db


def test_digits_is_nchw_float32_with_int64_labels_and_stratified_split():
    data = load_task(DigitsTask())
    assert data.x_train.dtype == np.float32 and data.x_train.shape[1:] == (1, 8, 8)
    assert data.y_train.dtype == np.int64 and data.n_classes == 10 and data.metric == "accuracy"
    assert len(data.x_train) + len(data.x_test) == 1797
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert set(np.unique(data.y_test)) == set(range(10))  # stratified: every class tested
    again = load_task(DigitsTask())
    np.testing.assert_array_equal(again.y_test, data.y_test)  # split fixed by split_seed


def test_denoise_noise_level_and_held_out_baseline():
    task = DenoiseTask(patches=64, noise_sigma=0.1)
    data = load_task(task)
    assert data.x_train.shape == (64, 1, 16, 16) and data.y_train.shape == (64, 1, 16, 16)
    assert data.metric == "psnr" and data.x_test.shape[2:] == (64, 64)
    noise = data.x_test - data.y_test
    # std of N noise samples: relative standard error ~ 1/sqrt(2N)
    n = noise.size
    assert abs(noise.std() - 0.1) < 5 * 0.1 / np.sqrt(2 * n)
    # the input PSNR of Gaussian noise at sigma 0.1 on [0, 1] images is 20 dB (the mean of
    # per-tile PSNRs sits slightly above: -log is convex)
    assert data.baseline["noisy_psnr_db"] == pytest.approx(psnr_db(data.x_test, data.y_test))
    assert 20.0 <= data.baseline["noisy_psnr_db"] < 20.5


def test_superres_inputs_are_half_size_and_bicubic_baseline_is_reported():
    data = load_task(SuperResTask(patches=32))
    assert data.x_train.shape == (32, 1, 8, 8) and data.y_train.shape == (32, 1, 16, 16)
    assert data.x_test.shape[2] * 2 == data.y_test.shape[2]
    assert 20.0 < data.baseline["bicubic_psnr_db"] < 50.0


def test_image_tasks_from_a_user_folder(tmp_path):
    from skimage.io import imsave

    rng = np.random.default_rng(0)
    for i in range(3):
        imsave(tmp_path / f"im{i}.png", (rng.random((40, 48, 3)) * 255).astype(np.uint8), check_contrast=False)
    data = load_task(DenoiseTask(image_dir=str(tmp_path), test_images=1, image_scale=1.0, patches=10, test_size=16))
    assert data.x_train.shape == (10, 1, 16, 16) and len(data.x_test) == 2 * 3  # 40x48 -> 2x3 tiles


def test_npz_classification_and_image_regression(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "cls.npz"
    np.savez(path, x=rng.random((50, 12)), y=np.repeat(np.arange(5), 10))
    data = load_task(NpzTask(path=str(path), test_fraction=0.2))
    assert data.kind == "classification" and data.n_classes == 5
    assert data.x_train.shape == (40, 12) and data.x_test.shape == (10, 12)

    path = tmp_path / "img.npz"
    x = rng.random((20, 1, 8, 8)).astype(np.float32)
    np.savez(path, x=x, y=x * 0.5, x_test=x[:4], y_test=x[:4] * 0.5)
    data = load_task(NpzTask(path=str(path)))
    assert data.kind == "image" and len(data.x_train) == 20 and len(data.x_test) == 4


@pytest.mark.parametrize(
    "arrays, error, fragment",
    [
        ({"x": np.zeros((4, 3))}, ValueError, "missing array(s) y"),
        ({"x": np.zeros((4, 3)), "y": np.zeros(5, dtype=int)}, ValueError, "they must match"),
        ({"x": np.zeros((4, 3)), "y": np.array([{"a": 1}] * 4, dtype=object)}, ValueError, "not a readable .npz"),
        ({"x": np.zeros((4, 3)), "y": np.zeros(4), "x_test": np.zeros((2, 3))}, ValueError, "both x_test and y_test"),
    ],
)
def test_npz_bad_input(tmp_path, arrays, error, fragment):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(error) as info:
        load_task(NpzTask(path=str(path)))
    assert fragment in str(info.value)


def test_missing_data_files_are_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file not found"):
        load_task(NpzTask(path=str(tmp_path / "none.npz")))
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        load_task(ImageFolderTask(path=str(tmp_path / "none")))
    with pytest.raises(FileNotFoundError, match="no images"):
        load_task(DenoiseTask(image_dir=str(tmp_path)))


def test_image_folder_classes_are_subfolders(tmp_path):
    from skimage.io import imsave

    for label, value in (("dark", 30), ("light", 220)):
        (tmp_path / label).mkdir()
        for i in range(5):
            imsave(tmp_path / label / f"{i}.png", np.full((20, 20), value + i, dtype=np.uint8), check_contrast=False)
    data = load_task(ImageFolderTask(path=str(tmp_path), size=8, test_fraction=0.2))
    assert data.n_classes == 2 and data.x_train.shape[1:] == (1, 8, 8)
    assert data.baseline["classes"] == ["dark", "light"]
    dark = np.concatenate([data.x_train[data.y_train == 0], data.x_test[data.y_test == 0]])
    assert dark.max() < 0.2  # label 0 is the "dark" folder


def test_psnr_matches_definition():
    target = np.zeros((2, 1, 4, 4))
    pred = target + 0.1
    assert psnr_db(pred, target) == pytest.approx(20.0)
