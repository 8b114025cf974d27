"""The interfaces every component implements."""

from ganforge.interfaces.augment import Augment
from ganforge.interfaces.dataset import Dataset, DataSplit, to_model_range
from ganforge.interfaces.extractor import FeatureExtractor
from ganforge.interfaces.loss import Batch, Loss
from ganforge.interfaces.metric import EvalContext, Metric
from ganforge.interfaces.networks import Discriminator, DiscriminatorOutput, Generator, as_output

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
    "Loss",
    "Metric",
    "as_output",
    "to_model_range",
]
