"""The conformance kit: one call checks that a component honours its interface.

In a plugin's tests::

    from ganforge.testing import check_loss

    def test_conformance():
        check_loss(MyLoss)                      # keyword arguments go to the constructor

Each ``check_*`` builds the component (filling ``image_shape`` when it takes one), runs it
against small, seeded inputs, and raises :class:`ConformanceError` naming the component, its
plugin and every failed check. :func:`check_component` checks a registered component by
name, :func:`check_plugin` everything one installed plugin registers; :func:`registered_plugin`
registers a plugin for one test and :func:`is_installed` tells whether an entry point loaded. The kit's own options
(image shape, conditional networks, device, seed) go in a :class:`Setup`.
"""

from ganforge.testing.augments import check_augment
from ganforge.testing.constructor import DEFAULT_IMAGE_SHAPES, Setup
from ganforge.testing.data import check_dataset
from ganforge.testing.evaluation import check_extractor, check_metric
from ganforge.testing.failures import ComponentUnavailable, ConformanceError
from ganforge.testing.fakes import RandomFeatures, TinyDiscriminator, TinyGenerator, TinyImages
from ganforge.testing.loggers import check_logger
from ganforge.testing.losses import batch_from_scores, check_loss
from ganforge.testing.networks import check_discriminator, check_generator
from ganforge.testing.plugins import is_installed, registered_plugin
from ganforge.testing.registered import CHECKS, check_component, check_plugin

__all__ = [
    "CHECKS",
    "DEFAULT_IMAGE_SHAPES",
    "ComponentUnavailable",
    "ConformanceError",
    "RandomFeatures",
    "Setup",
    "TinyDiscriminator",
    "TinyGenerator",
    "TinyImages",
    "batch_from_scores",
    "check_augment",
    "check_component",
    "check_dataset",
    "check_discriminator",
    "check_extractor",
    "check_generator",
    "check_logger",
    "check_loss",
    "check_metric",
    "check_plugin",
    "is_installed",
    "registered_plugin",
]
