"""Learning from traces: fitting the router, and fine-tuning the edge model with TRL + LoRA.

Importing this package is light: the trainers import torch, transformers, trl, peft and datasets
only when they run (``pip install 'langchain-netgpt[train]'``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_netgpt.learn.edge import (
        EdgeFinetuneConfig,
        EdgeFinetuneResult,
        finetune_edge,
    )
    from langchain_netgpt.learn.rewards import (
        EscalationAwareReward,
        agreement_reward,
        combined_reward,
        schema_validity_reward,
    )

_LAZY = {
    "EdgeFinetuneConfig": "langchain_netgpt.learn.edge",
    "EdgeFinetuneResult": "langchain_netgpt.learn.edge",
    "finetune_edge": "langchain_netgpt.learn.edge",
    "EscalationAwareReward": "langchain_netgpt.learn.rewards",
    "agreement_reward": "langchain_netgpt.learn.rewards",
    "combined_reward": "langchain_netgpt.learn.rewards",
    "schema_validity_reward": "langchain_netgpt.learn.rewards",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_netgpt.learn' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
