"""ganforge: a plugin-based GAN framework.

Plugin authors need two things from here: :data:`hookimpl`, the marker for hook
implementations, and the interfaces their components implement.
"""

from typing import TYPE_CHECKING, Any

from ganforge.hookspecs import hookimpl
from ganforge.version import __version__

if TYPE_CHECKING:
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
        Logger,
        Loss,
        Metric,
        MetricSubject,
        RunStart,
    )


def __getattr__(name: str) -> Any:
    """The interfaces, imported on first use: importing ganforge (as ``ganforge --help`` does)
    does not import torch."""
    if name in __all__ and name not in ("__version__", "hookimpl"):
        import ganforge.interfaces  # torch loads here, when an interface is first asked for

        return getattr(ganforge.interfaces, name)
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")


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
    "Logger",
    "Loss",
    "Metric",
    "MetricSubject",
    "RunStart",
    "__version__",
    "hookimpl",
]
