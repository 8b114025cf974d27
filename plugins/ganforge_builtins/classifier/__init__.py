"""The domain-classifier feature extractor and `ganforge train-classifier`.

One plugin: its modules register in the order listed here, each imported only when
a hook needs it (``ganforge --help`` imports none of them)."""

from ganforge.hookspecs import family

plugin = family(
    __name__, "extractor",
    commands={
        "train-classifier": (f"{__name__}.commands:train_classifier_command", "Train the small domain classifier on DATASET and save it for `{name: classifier, weights: FILE}`."),
    },
)
