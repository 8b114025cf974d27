"""``ganforge sample`` on runs trained for a few steps on synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from ganforge.artifacts.loading import load_trained
from ganforge.checkpoint import load_checkpoint
from ganforge.plugins import Plugins

from .conftest import invoke
from .use_plugin import install, train_conditional, train_unconditional


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("use-sample")
    return {"cond": train_conditional(root), "plain": train_unconditional(root), "root": root}


@pytest.fixture(autouse=True)
def use_plugin(plugins: Plugins) -> Plugins:
    return install(plugins)


def opened(path: Path) -> Image.Image:
    with Image.open(path) as image:
        image.load()
        return image


def test_grid_of_an_unconditional_run(runs: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("sample", str(runs["plain"]), "--n", "10", "--out", str(tmp_path / "grid.png"))
    assert result.exit_code == 0, result.output
    assert "10 samples of tiny step 2 (EMA weights)" in result.stderr
    image = opened(tmp_path / "grid.png")
    assert (image.size, image.mode) == ((4 * 30 + 2, 3 * 30 + 2), "L")  # 4 columns of 28px images with 2px gaps
    invoke("sample", str(runs["plain"]), "--n", "10", "--out", str(tmp_path / "again.png"))
    assert (tmp_path / "again.png").read_bytes() == (tmp_path / "grid.png").read_bytes()
    invoke("sample", str(runs["plain"]), "--n", "10", "--seed", "1", "--out", str(tmp_path / "seed1.png"))
    assert (tmp_path / "seed1.png").read_bytes() != (tmp_path / "grid.png").read_bytes()


def test_uses_the_ema_generator_unless_told_not_to(runs: dict[str, Path], tmp_path: Path) -> None:
    invoke("sample", str(runs["plain"]), "--n", "4", "--out", str(tmp_path / "ema.png"))
    raw = invoke("sample", str(runs["plain"]), "--n", "4", "--no-ema", "--out", str(tmp_path / "raw.png"))
    assert "(generator weights)" in raw.stderr
    assert (tmp_path / "ema.png").read_bytes() != (tmp_path / "raw.png").read_bytes()
    state = load_checkpoint(runs["plain"] / "checkpoints/last.pt")
    loaded = load_trained(runs["plain"], device="cpu")
    assert torch.equal(loaded.generator.state_dict()["net.0.weight"], state["ema"]["net.0.weight"])


def test_class_by_name_or_index_and_one_file_per_image(runs: dict[str, Path], tmp_path: Path) -> None:
    by_name = invoke("sample", str(runs["cond"]), "--class", "Sneaker", "--n", "6", "--out", str(tmp_path / "name.png"))
    assert by_name.exit_code == 0, by_name.output
    invoke("sample", str(runs["cond"]), "--class", "1", "--n", "6", "--out", str(tmp_path / "index.png"))
    invoke("sample", str(runs["cond"]), "--class", "bag", "--n", "6", "--out", str(tmp_path / "bag.png"))
    assert (tmp_path / "name.png").read_bytes() == (tmp_path / "index.png").read_bytes()
    assert (tmp_path / "name.png").read_bytes() != (tmp_path / "bag.png").read_bytes()
    assert opened(tmp_path / "name.png").size == (3 * 30 + 2, 2 * 30 + 2)
    each = invoke("sample", str(runs["cond"]), "--n", "4", "--out", str(tmp_path / "each") + "/")
    assert each.exit_code == 0, each.output
    files = sorted(p.name for p in (tmp_path / "each").iterdir())
    assert files == ["00000_T-shirt-top.png", "00001_Sneaker.png", "00002_Bag.png", "00003_T-shirt-top.png"]
    assert all((opened(tmp_path / "each" / f).size, opened(tmp_path / "each" / f).mode) == ((28, 28), "L") for f in files)


def test_every_class_one_column_each(runs: dict[str, Path], tmp_path: Path) -> None:
    invoke("sample", str(runs["cond"]), "--n", "9", "--out", str(tmp_path / "all.png"))
    assert opened(tmp_path / "all.png").size == (3 * 30 + 2, 3 * 30 + 2)


def test_truncation_and_interpolation(runs: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("sample", str(runs["plain"]), "--n", "8", "--truncation", "0.5", "--out", str(tmp_path / "t.png"))
    assert result.exit_code == 0, result.output
    invoke("sample", str(runs["plain"]), "--n", "8", "--out", str(tmp_path / "u.png"))
    assert (tmp_path / "t.png").read_bytes() != (tmp_path / "u.png").read_bytes()
    walk = invoke("sample", str(runs["cond"]), "--interpolate", "5", "--n", "3", "--class", "Bag", "--out", str(tmp_path / "walk.png"))
    assert walk.exit_code == 0, walk.output
    assert opened(tmp_path / "walk.png").size == (5 * 30 + 2, 3 * 30 + 2)
    invoke("sample", str(runs["cond"]), "--interpolate", "5", "--n", "3", "--path", "linear", "--out", str(tmp_path / "frames") + "/")
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert len(names) == 15 and names[0] == "pair000_step000_T-shirt-top.png" and names[-1] == "pair002_step004_Bag.png"


def test_bare_state_dict_with_spec(runs: dict[str, Path], tmp_path: Path) -> None:
    bare = tmp_path / "generator.pt"
    torch.save(load_checkpoint(runs["cond"] / "checkpoints/last.pt")["ema"], bare)
    refused = invoke("sample", str(bare), "--out", str(tmp_path / "x.png"))
    assert refused.exit_code == 2 and "give the spec the generator was trained with (--spec)" in refused.stderr
    result = invoke("sample", str(bare), "--spec", str(runs["root"] / "cond.yaml"), "--n", "6", "--class", "Sneaker", "--out", str(tmp_path / "bare.png"))
    assert result.exit_code == 0, result.output
    invoke("sample", str(runs["cond"]), "--n", "6", "--class", "Sneaker", "--out", str(tmp_path / "run.png"))
    assert (tmp_path / "bare.png").read_bytes() == (tmp_path / "run.png").read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--class", "Sandal"), "unknown class 'Sandal'; valid classes (name or index): 0=T-shirt/top, 1=Sneaker, 2=Bag"),
        (("--truncation", "0"), "--truncation must be a positive number such as 0.7"),
        (("--checkpoint", "best", "--class", "0"), None),
    ],
)
def test_user_errors_say_what_to_do(runs: dict[str, Path], tmp_path: Path, args: tuple[str, ...], message: str | None) -> None:
    result = invoke("sample", str(runs["cond"]), *args, "--out", str(tmp_path / "x.png"))
    if message is None:  # the conditional run has a metric, so best.pt exists
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2 and message in result.stderr


def test_class_for_an_unconditional_run_and_help(runs: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("sample", str(runs["plain"]), "--class", "Sneaker", "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 2 and "not class-conditional" in result.stderr
    helptext = invoke("sample", "--help").stdout
    assert "Examples:" in helptext and "--truncation" in helptext and "--spec" in helptext


def test_existing_pictures_are_kept_unless_overwrite(runs: dict[str, Path], tmp_path: Path) -> None:
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"mine")
    refused = invoke("sample", str(runs["plain"]), "--n", "4", "--out", str(grid))
    assert refused.exit_code == 2
    assert refused.stderr.strip() == f"Error: {grid} exists; pass --overwrite to replace it, or choose another --out"
    assert grid.read_bytes() == b"mine"
    replaced = invoke("sample", str(runs["plain"]), "--n", "4", "--out", str(grid), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert opened(grid).size == (2 * 30 + 2, 2 * 30 + 2)
    folder = tmp_path / "each"
    assert invoke("sample", str(runs["cond"]), "--n", "2", "--out", f"{folder}/").exit_code == 0
    (folder / "00001_Sneaker.png").write_bytes(b"mine")
    again = invoke("sample", str(runs["cond"]), "--n", "3", "--out", f"{folder}/")
    assert again.exit_code == 2 and f"{folder / '00000_T-shirt-top.png'} exists" in again.stderr
    assert (folder / "00001_Sneaker.png").read_bytes() == b"mine" and not (folder / "00002_Bag.png").exists()
    assert invoke("sample", str(runs["cond"]), "--n", "3", "--out", f"{folder}/", "--overwrite").exit_code == 0
    assert opened(folder / "00001_Sneaker.png").size == (28, 28)


def test_a_grid_must_be_a_png_file(runs: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("sample", str(runs["plain"]), "--out", str(tmp_path / "grid.jpg"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"Error: --out {tmp_path / 'grid.jpg'}: a grid is written as PNG; give a file name ending in .png, or a folder ending in / for one PNG per sample"
    )
    assert not (tmp_path / "grid.jpg").exists()


def test_a_folder_that_cannot_be_made_is_one_line(runs: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("mine")
    result = invoke("sample", str(runs["plain"]), "--n", "2", "--out", f"{tmp_path / 'afile'}/")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: cannot make the folder {tmp_path / 'afile'}: {tmp_path / 'afile'} is a file"
    assert (tmp_path / "afile").read_text() == "mine"
