"""The interfaces every component implements."""

from ganforge.interfaces.augment import Augment
from ganforge.interfaces.dataset import Dataset, DataSplit, to_model_range
from ganforge.interfaces.extractor import FeatureExtractor
from ganforge.interfaces.logger import Logger, RunStart
from ganforge.interfaces.loss import Batch, Loss
from ganforge.interfaces.metric import EvalContext, Metric, MetricSubject
from ganforge.interfaces.networks import (
    Discriminator,
    DiscriminatorOutput,
    Generator,
    GeneratorOutput,
    as_generated,
    as_output,
    truncate_by_redrawing,
)

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
    "as_generated",
    "as_output",
    "to_model_range",
    "truncate_by_redrawing",
]
