"""Every component ganforge itself ships passes the conformance kit: one parametrized test over
the registry's entries from ganforge's own distribution, so components added later are covered
without editing this file, and an installed third-party plugin cannot break ganforge's suite
(`ganforge plugins --check` runs the kit over everything installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ganforge.kinds import KIND_NAMES
from ganforge.plugins import Plugins, get_plugins
from ganforge.registry import ComponentInfo
from ganforge.spec.signature import signature_of
from ganforge.spec.types import nested_kind
from ganforge.testing import CHECKS, ComponentUnavailable, RandomFeatures, Setup, TinyGenerator, TinyImages
from ganforge.testing.registered import OWN_DISTRIBUTION, components_of

from .plugkit_data import write_cifar_folder, write_idx_folder, write_image_folder

COMPONENTS = components_of(OWN_DISTRIBUTION, Plugins.create())
#: Networks that can be made class-conditional: checked conditional too (labels must matter).
CONDITIONAL = [
    info for info in COMPONENTS
    if info.kind in ("generator", "discriminator") and "num_classes" in signature_of(info.factory).names
]  # fmt: skip


def settings(info: ComponentInfo, tmp_path: Path) -> tuple[Setup | None, dict[str, Any]]:
    """Fast, offline constructor parameters (and kit setup) for one component."""
    params: dict[str, Any] = {}
    for p in signature_of(info.factory).params:
        if p.name == "download":
            params["download"] = False  # offline: tiny files below stand in for downloads
        elif nested_kind(p.hint) == "extractor":
            params[p.name] = RandomFeatures()  # metrics measure with a fast deterministic extractor
        elif nested_kind(p.hint) == "dataset":
            params[p.name] = TinyImages((3, 32, 32), size=8)  # a dataset that wraps another one (super-resolution)
    setup = None
    key = (info.kind, info.name)
    if key in {("dataset", "mnist"), ("dataset", "fashion-mnist")}:
        params["root"] = str(write_idx_folder(tmp_path / "idx"))
    elif key == ("dataset", "cifar10"):
        params["root"] = str(write_cifar_folder(tmp_path / "cifar"))
    elif key == ("dataset", "image-folder"):
        params["root"] = str(write_image_folder(tmp_path / "images"))
    elif key in {("metric", "precision-recall"), ("metric", "density-coverage"), ("metric", "cmmd")}:
        params["samples"] = 64  # the defaults cost seconds in pairwise distances
    elif key in {("metric", "intra-fid"), ("metric", "class-diversity")}:
        setup, params["samples_per_class"] = Setup(num_classes=4), 16  # needs a conditional generator
    elif key == ("metric", "accuracy"):
        setup = Setup(num_classes=4)  # needs a conditional generator
    elif key == ("metric", "ppl"):
        params["samples"] = 64  # PPL in W needs a mapping network: a small StyleGAN generator
        generator = get_plugins().registry.get("generator", "stylegan").factory((1, 28, 28), latent_dim=16, w_dim=16, width=8, mapping_layers=2)
        setup = Setup(generator=generator)
    elif key in {("loss", "elbo"), ("loss", "vae-gan"), ("metric", "elbo")}:
        vae = get_plugins().registry.get("generator", "vae").factory
        setup = Setup(image_shape=(1, 8, 8), generator=vae((1, 8, 8), arch="mlp", latent_dim=4, hidden=(16,), decode_prior=key[1] == "vae-gan"))
        if key == ("loss", "vae-gan"):
            params["layer"] = "hidden"  # the kit's tiny discriminator's hidden layer
    elif key == ("logger", "wandb"):
        params["mode"] = "offline"  # no account, no network
    elif key == ("logger", "mlflow"):  # a file store: MLflow's default database takes seconds to create
        params["tracking_uri"] = (tmp_path / "mlruns").as_uri()
    elif key == ("dataset", "super-resolution"):
        params.update(hr_size=16, crops=2)  # the wrapped tiny images are 32x32
    elif key == ("extractor", "vgg19"):
        params["pretrained"] = False  # ImageNet weights cannot be downloaded here; the architecture is checked
    elif key == ("loss", "perceptual"):
        # a hooked layer of a random VGG19 (RandomFeatures has no layers); conv5_4 needs 16+ pixels
        params["extractor"] = get_plugins().registry.get("extractor", "vgg19").factory(pretrained=False)
        setup = Setup(image_shape=(3, 32, 32))
    elif key in {("metric", "psnr"), ("metric", "ssim"), ("metric", "lpips")}:  # they score an upscaler on paired data
        if key == ("metric", "lpips"):
            params["extractor"] = RandomFeatures()  # LPIPS's VGG16 weights cannot be downloaded here
        registry = get_plugins().registry
        pairs = registry.get("dataset", "super-resolution").factory(dataset=TinyImages((3, 32, 32), size=8), hr_size=16, scale=2)
        upscaler = registry.get("generator", "srresnet").factory(image_shape=(3, 16, 16), scale=2, blocks=1, width=8)
        setup = Setup(dataset=pairs, generator=upscaler)
    elif key == ("loss", "auxiliary-classifier"):  # reads the class head of a conditional discriminator
        registry = get_plugins().registry
        setup = Setup(
            image_shape=(1, 28, 28),
            num_classes=3,
            generator=registry.get("generator", "dcgan").factory((1, 28, 28), latent_dim=8, width=8, num_classes=3),
            discriminator=registry.get("discriminator", "dcgan").factory((1, 28, 28), width=8, num_classes=3, class_head=True, twin_head=True),
        )
        params.update(fake_weight=0.5, twin_weight=1.0)  # all of its terms
    elif key == ("metric", "mode-coverage"):
        ring = get_plugins().registry.get("dataset", "ring").factory(size=512)
        setup = Setup(dataset=ring, generator=TinyGenerator(tuple(ring.image_shape)))
    return setup, params


@pytest.mark.parametrize("info", COMPONENTS, ids=lambda i: f"{i.kind}-{i.name}")
def test_component_passes_the_conformance_kit(info: ComponentInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))  # e.g. classifiers trained on first use
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    setup, params = settings(info, tmp_path)
    try:
        CHECKS[info.kind](info.factory, setup=setup, **params)
    except ComponentUnavailable as exc:
        pytest.skip(f"{exc.component}: {exc.problems[0][1]}")  # e.g. pretrained weights not downloadable offline


@pytest.mark.parametrize("info", CONDITIONAL, ids=lambda i: f"{i.kind}-{i.name}")
def test_conditional_network_passes_the_conformance_kit(info: ComponentInfo) -> None:
    CHECKS[info.kind](info.factory, num_classes=3)


def test_only_ganforges_own_components_are_parametrized() -> None:
    everything = Plugins.create()
    assert {info.plugin for info in COMPONENTS} <= {n for n, i in everything.loaded.items() if i.distribution == "ganforge"}
    third_party = [info for info in everything.registry.list() if everything.loaded[info.plugin].distribution != "ganforge"]
    if not third_party:
        pytest.skip("no third-party plugin installed (pip install ./plugins/ganforge-boundary-seeking)")
    assert not set(third_party) & set(COMPONENTS)


def test_every_kind_is_covered() -> None:
    """Every kind in the table has a check, and a built-in component that the test above checks."""
    assert set(CHECKS) == set(KIND_NAMES)
    assert "augment" in KIND_NAMES
    assert {info.kind for info in COMPONENTS} == set(KIND_NAMES)
