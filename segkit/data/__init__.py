"""Built-in data: a seeded synthetic IHC-like data set."""

from segkit.data.synthetic import SyntheticSample, make_synthetic_dataset, make_synthetic_sample

__all__ = ["SyntheticSample", "make_synthetic_dataset", "make_synthetic_sample"]
