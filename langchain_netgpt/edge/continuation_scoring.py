"""Log-probabilities of short continuations of a prompt with a transformers causal LM.

This is the transformers runtime's :data:`~langchain_netgpt.edge.call_decision.ContinuationScorer`:
one prefill of the prompt plus the continuations' shared prefix, then each continuation's
remaining tokens on a copy of the KV cache (usually one token: the branch's first word).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

__all__ = ["hf_continuation_logprobs"]


def hf_continuation_logprobs(
    model: Any, tokenizer: Any, prompt: str, continuations: Sequence[str], device: str
) -> list[float]:
    """Total log-probability of each continuation after ``prompt`` (tokenised jointly).

    Args:
        model: A transformers causal LM.
        tokenizer: Its tokenizer.
        prompt: The rendered prompt (chat template applied, generation prompt included).
        continuations: Candidate texts that follow the prompt.
        device: Where the model lives.

    Returns:
        One log-probability per continuation, in order.
    """
    import torch

    base = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    sequences = [
        tokenizer(prompt + text, add_special_tokens=False)["input_ids"] for text in continuations
    ]
    shared = len(base)
    # Joint tokenisation may merge the prompt's last token with a continuation: back off to
    # the longest prefix every sequence shares.
    while shared > 0 and any(seq[:shared] != base[:shared] for seq in sequences):
        shared -= 1
    common = min(len(seq) for seq in sequences)
    while shared < common - 1 and len({seq[shared] for seq in sequences}) == 1:
        shared += 1
    with torch.inference_mode():
        head = torch.tensor([sequences[0][:shared]], device=device)
        out = model(input_ids=head, use_cache=True)
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        scores: list[float] = []
        for seq in sequences:
            rest = seq[shared:]
            total = float(first[rest[0]])
            if len(rest) > 1:
                cache = copy.deepcopy(out.past_key_values)
                tail = torch.tensor([rest[:-1]], device=device)
                logits = model(input_ids=tail, past_key_values=cache, use_cache=True).logits[0]
                logp = torch.log_softmax(logits.float(), dim=-1)
                total += float(sum(logp[i, tok] for i, tok in enumerate(rest[1:])))
            scores.append(total)
    return scores
