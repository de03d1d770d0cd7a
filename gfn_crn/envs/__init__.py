"""The torchgfn environment that builds CRNs reaction by reaction (DESIGN.md section 6)."""

from .crn_env import ORDERS, CRNEnv, RewardFn
from .spec import CRNActionSpec, action_spec

__all__ = ["CRNEnv", "ORDERS", "RewardFn", "CRNActionSpec", "action_spec"]
