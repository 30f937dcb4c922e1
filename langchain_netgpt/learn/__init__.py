"""Learning from traces: fitting the router, and fine-tuning the edge model with TRL + LoRA.

Importing this package is light: the trainers import torch, transformers, trl, peft and datasets
only when they run (``pip install 'langchain-netgpt[train]'``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_netgpt._lazy import lazy_getattr

if TYPE_CHECKING:
    from langchain_netgpt.learn.edge import (
        EdgeFinetuneConfig,
        EdgeFinetuneResult,
        finetune_edge,
    )
    from langchain_netgpt.learn.off_policy import (
        BanditData,
        RidgeRewardModel,
        ValueEstimate,
        estimate_value,
    )
    from langchain_netgpt.learn.policy_file import (
        LearnedThresholdPolicy,
        PolicyFile,
        load_policy,
        load_policy_scorer,
        read_policy_file,
    )
    from langchain_netgpt.learn.rewards import (
        EscalationAwareReward,
        agreement_reward,
        combined_reward,
        schema_validity_reward,
    )
    from langchain_netgpt.learn.router_fitting import RouterFit, fit_router, train_router
    from langchain_netgpt.learn.routing_log import RouterReplayConfig, replay_router_log

_LAZY = {
    "EdgeFinetuneConfig": "langchain_netgpt.learn.edge",
    "EdgeFinetuneResult": "langchain_netgpt.learn.edge",
    "finetune_edge": "langchain_netgpt.learn.edge",
    "EscalationAwareReward": "langchain_netgpt.learn.rewards",
    "agreement_reward": "langchain_netgpt.learn.rewards",
    "combined_reward": "langchain_netgpt.learn.rewards",
    "schema_validity_reward": "langchain_netgpt.learn.rewards",
    "BanditData": "langchain_netgpt.learn.off_policy",
    "RidgeRewardModel": "langchain_netgpt.learn.off_policy",
    "ValueEstimate": "langchain_netgpt.learn.off_policy",
    "estimate_value": "langchain_netgpt.learn.off_policy",
    "LearnedThresholdPolicy": "langchain_netgpt.learn.policy_file",
    "PolicyFile": "langchain_netgpt.learn.policy_file",
    "load_policy": "langchain_netgpt.learn.policy_file",
    "load_policy_scorer": "langchain_netgpt.learn.policy_file",
    "read_policy_file": "langchain_netgpt.learn.policy_file",
    "RouterFit": "langchain_netgpt.learn.router_fitting",
    "fit_router": "langchain_netgpt.learn.router_fitting",
    "train_router": "langchain_netgpt.learn.router_fitting",
    "RouterReplayConfig": "langchain_netgpt.learn.routing_log",
    "replay_router_log": "langchain_netgpt.learn.routing_log",
}

__all__ = [
    "BanditData",
    "EdgeFinetuneConfig",
    "EdgeFinetuneResult",
    "EscalationAwareReward",
    "LearnedThresholdPolicy",
    "PolicyFile",
    "RidgeRewardModel",
    "RouterFit",
    "RouterReplayConfig",
    "ValueEstimate",
    "agreement_reward",
    "combined_reward",
    "estimate_value",
    "finetune_edge",
    "fit_router",
    "load_policy",
    "load_policy_scorer",
    "read_policy_file",
    "replay_router_log",
    "schema_validity_reward",
    "train_router",
]


__getattr__ = lazy_getattr(__name__, _LAZY)
