"""Networks, parameter distributions, the forward policy and backward policies (DESIGN.md 6.4)."""

from .backward import (
    CanonicalBackwardEstimator,
    CRNBackwardDistribution,
    LearnedBackwardEstimator,
    UniformBackwardEstimator,
    default_backward_estimator,
)
from .distributions import (
    CONTINUOUS_FAMILIES,
    LogNormal1D,
    MaskedLogNormal,
    MaskedLogNormalCorrelated,
    MaskedMultiCategorical,
    MaskedMultivariateNormal,
    lognormal_from_mean_std,
)
from .modules import FFNN, ZeroModule
from .policy import CRNActionDistribution, CRNPolicyEstimator, structure_log_probs
from .preprocessor import CRNPreprocessor

__all__ = [
    "CRNPolicyEstimator", "CRNActionDistribution", "structure_log_probs", "CRNPreprocessor", "FFNN",
    "ZeroModule", "UniformBackwardEstimator", "CanonicalBackwardEstimator", "LearnedBackwardEstimator",
    "CRNBackwardDistribution", "default_backward_estimator", "LogNormal1D", "MaskedLogNormal",
    "MaskedLogNormalCorrelated", "MaskedMultivariateNormal", "MaskedMultiCategorical",
    "lognormal_from_mean_std", "CONTINUOUS_FAMILIES",
]
