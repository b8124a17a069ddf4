"""Per-token policy losses for rows that TRL's clipped surrogate does not cover, and their aggregation.

A row's `Rollout.estimator` says how its completion tokens enter the policy loss (types.py):

* "importance" (Guide-GRPO, arXiv 2506.13923): the row was sampled under a hinted prompt q+h but is trained as the
  unhinted policy pi_theta(. | q). Its ratio is rho_t = pi_theta(o_t | q, o_<t) / pi_b(o_t | q+h, o_<t), pi_b the
  sampling policy's probability in the hinted context (a no-grad forward at rollout time), and the loss is TRL's
  two-sided clipped surrogate -min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A) on that ratio. An importance
  estimate of the unhinted policy's gradient (up to the clip): a hinted success that the plain policy would rarely
  write gets a small rho, hence a small step.
* "off_policy" (LUFFY, arXiv 2504.14945): a reference trace nobody sampled. pi_phi is taken to be 1, so the ratio
  is pi_theta itself, never clipped, and policy shaping f(p) = p / (p + gamma) replaces it: the loss is -A f(p_t),
  whose gradient is -A w(p) grad log p with w(p) = gamma p / (p + gamma)^2. Against the unshaped f(p) = p (weight p)
  that up-weights low-probability tokens (gamma = 0.1: w = 0.083 at p = 0.01, 8x; at most 0.25, at p = gamma) and
  down-weights likely ones (0.083 at p = 1). Against plain imitation of the trace (the `reference` strategy's
  on-policy ratio, weight 1) every token weighs at most a quarter. gamma None: f(p) = p.

The trainer keeps these rows out of TRL's own loss (their tool_mask is zeroed for that call, so TRL neither clips
nor counts them) and adds the sum below with TRL's normaliser of the same loss type, so a batch mixing plain and
off-policy rows is aggregated exactly as TRL would aggregate it had it computed these per-token losses itself
(LUFFY's own code also sums on- and off-policy tokens in one token mean). Pure tensor functions: tested on
hand-built tensors (tests/test_offpolicy_loss.py).
"""
from __future__ import annotations

import torch

from scaffold_rl.types import ESTIMATORS

CODES = {name: i for i, name in enumerate(ESTIMATORS)}  # "on_policy" 0, "importance" 1, "off_policy" 2
IMPORTANCE, OFF_POLICY = CODES["importance"], CODES["off_policy"]
# loss aggregations whose normaliser we can reproduce exactly (the clipped-surrogate family of TRL 1.16)
SUPPORTED_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")


def shaped(p: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """f(p) = p / (p + gamma) where gamma is a number, p where it is NaN (no shaping)."""
    return torch.where(torch.isnan(gamma), p, p / (p + torch.nan_to_num(gamma, nan=1.0)))


def token_losses(logps, advantages, codes, behaviour_logps, gammas, eps_low: float, eps_high: float,
                 ref_logps=None, beta: float = 0.0):
    """Per-token losses (B, T) of the importance and off-policy rows (0 on other rows) and their statistics.

    `logps` (B, T): log pi_theta of the completion tokens (with grad); `advantages` (B,) or (B, T); `codes` (B,)
    estimator codes; `behaviour_logps` (B, T) or None; `gammas` (B,) shaping gammas, NaN = none. With `beta`, the
    same k3 KL term TRL adds per token (exp(ref - logp) - (ref - logp) - 1).
    """
    adv = advantages if advantages.dim() == 2 else advantages.unsqueeze(1)
    importance = (codes == IMPORTANCE).unsqueeze(1)
    off = (codes == OFF_POLICY).unsqueeze(1)
    loss = torch.zeros_like(logps)
    stats: dict[str, torch.Tensor] = {}
    if bool(importance.any()):
        if behaviour_logps is None:
            raise RuntimeError("importance rows need the behaviour log-probs of their sampling context")
        ratio = torch.exp(logps - behaviour_logps)
        clipped = torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
        loss = torch.where(importance, -torch.min(ratio * adv, clipped * adv), loss)
        stats["ratio"] = ratio.detach()
        stats["clipped"] = (((ratio < 1 - eps_low) & (adv < 0)) | ((ratio > 1 + eps_high) & (adv > 0))).float()
    if bool(off.any()):
        p = torch.exp(logps)
        gamma = gammas.to(p.dtype).unsqueeze(1)
        loss = torch.where(off, -adv * shaped(p, gamma), loss)
        pd = p.detach()
        g = torch.nan_to_num(gamma, nan=0.0)
        # d f / d log p relative to the on-policy d(ratio) / d log p = 1: gamma p / (p + gamma)^2, or p unshaped
        stats["prob"] = pd
        stats["grad_weight"] = torch.where(torch.isnan(gamma), pd, g * pd / (pd + g) ** 2)
    if beta and ref_logps is not None:
        kl = torch.exp(ref_logps - logps) - (ref_logps - logps) - 1
        loss = torch.where(importance | off, loss + beta * kl, loss)
    return loss, stats


def aggregate(per_token_loss, mask, loss_type: str, *, full_mask, max_completion_length: int, num_items,
              accumulation: float, processes: int = 1, steps_per_generation: int = 1, training: bool = True):
    """Sum of the masked per-token losses normalised as TRL 1.16 normalises `loss_type` for the micro-batch whose
    loss mask (all rows, plain ones included) is `full_mask`; `mask` selects this term's tokens.

    grpo: mean over rows of per-row token means; bnpo: token mean over the micro-batch; dr_grpo: sum / (rows x
    max_completion_length); dapo: sum / the generation batch's token count per accumulation window. Each is
    divided by the gradient-accumulation steps like TRL's (dapo has that inside its normaliser).
    """
    if loss_type not in SUPPORTED_LOSS_TYPES:
        raise ValueError(f"importance-corrected and off-policy rows (guide, luffy) support train.loss_type in "
                         f"{SUPPORTED_LOSS_TYPES}, got {loss_type!r}")
    m = mask.to(per_token_loss.dtype)
    total = (per_token_loss * m)
    if loss_type == "grpo":
        return (total.sum(-1) / m.sum(-1).clamp(min=1.0)).mean() / accumulation
    if loss_type == "bnpo":
        return total.sum() / full_mask.sum().clamp(min=1.0) / accumulation
    if loss_type == "dr_grpo":
        return total.sum() / (per_token_loss.size(0) * max_completion_length) / accumulation
    normaliser = num_items.clamp(min=1.0) / processes  # dapo
    if training:
        normaliser = normaliser * accumulation / steps_per_generation
    return total.sum() / normaliser
