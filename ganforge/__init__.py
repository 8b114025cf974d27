"""ganforge: a plugin-based GAN framework.

Plugin authors need two things from here: :data:`hookimpl`, the marker for hook
implementations, and the interfaces their components implement.
"""

from ganforge.hookspecs import hookimpl
from ganforge.interfaces import (
    Augment,
    Batch,
    Dataset,
    DataSplit,
    Discriminator,
    DiscriminatorOutput,
    EvalContext,
    FeatureExtractor,
    Generator,
    GeneratorOutput,
    Loss,
    Metric,
)
from ganforge.version import __version__

__all__ = [
    "Augment",
    "Batch",
    "DataSplit",
    "Dataset",
    "Discriminator",
    "DiscriminatorOutput",
    "EvalContext",
    "FeatureExtractor",
    "Generator",
    "GeneratorOutput",
    "Loss",
    "Metric",
    "__version__",
    "hookimpl",
]
