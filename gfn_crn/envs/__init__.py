"""The torchgfn environment that builds CRNs reaction by reaction (DESIGN.md section 6)."""

from .crn_env import ORDERS, CRNEnv, RewardFn

__all__ = ["CRNEnv", "ORDERS", "RewardFn"]
