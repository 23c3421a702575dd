"""Contract tables -> documented, all-float64 feature frames (per creator, per collaboration)."""
from features.catalogue import FEATURE_VERSION, FEATURES, FeatureSpec
from features.pipeline import (
    FeaturePipeline,
    build_feature_frames,
    fit_and_build_in_chunks,
    fit_in_pieces,
    transform_in_pieces,
)

__all__ = ["FEATURES", "FEATURE_VERSION", "FeaturePipeline", "FeatureSpec",
           "build_feature_frames", "fit_and_build_in_chunks", "fit_in_pieces",
           "transform_in_pieces"]
