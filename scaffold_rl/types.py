"""The plain data that flows through every stage: task -> rollout -> reward -> advantage -> update.

No logic here beyond validation, so any stage (or a user's own code) can build these by hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HINT_TIERS = ("knowledge", "planning", "solution")
HINT_LOSSES = ("rl", "nll")
HINT_PLACEMENTS = ("prompt", "response", "dropped")
# how a row's completion tokens enter the policy loss (Rollout.estimator; the trainer's loss, train/offpolicy.py)
ESTIMATORS = ("on_policy", "importance", "off_policy")


@dataclass(frozen=True)
class Problem:
    """One task instance. Only `id` and `prompt` are required: label-free training has no answer."""

    id: str
    prompt: str
    answer: str | None = None
    solution_steps: tuple[str, ...] = ()
    # Scaf-GRPO tiers, each a tuple of up to 4 parts; level l of a tier = its first l parts.
    hints: dict[str, tuple[str, ...]] = field(default_factory=dict)
    level: int | None = None
    source: str = ""
    # The reference completion in the task's own format, when the task has one (procedural tasks do);
    # used by strict full-chain rewards and reference-injection strategies.
    reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if not self.id:
            raise ValueError("Problem.id must be non-empty")
        if not isinstance(self.prompt, str) or not self.prompt:
            raise ValueError(f"Problem {self.id}: prompt must be a non-empty string")
        for tier in self.hints:
            if tier not in HINT_TIERS:
                raise ValueError(f"Problem {self.id}: unknown hint tier {tier!r}; expected one of {HINT_TIERS}")


@dataclass(frozen=True)
class Hint:
    """A hint shown with a problem. Where it goes is `placement`, decided here and nowhere else:

    * "prompt": the hint is context of the prompt; the model is sampled and trained under prompt + hint, and only
      its generated tokens carry loss (paper-faithful Scaf-GRPO, POPE).
    * "response": the hint tokens open the response: sampled as a forced prefix under the plain prompt and
      trained as part of the completion (how, the rollout's `hint_loss` says: "rl" or "nll").
    * "dropped": sampled under prompt + hint, trained under the plain prompt on the generated tokens alone (the
      paper's rejected off-policy variant).

    `scored` says whether the reward reads the hint text as the start of the response: True for a solution prefix
    the answer continues (SEELE's y_{1:l} + o, the embedded task's chain, reference injection), False when only
    what the model wrote may earn the reward (a Scaf-GRPO solution part may already hold the boxed answer).
    The renderer applies both (rollout/prompts.py); the task's format may force scoring (the embedded strict
    chain always includes a solution prefix, whose last step the ladder never shows).
    """

    text: str
    tier: str = "solution"
    level: int = 0  # number of parts (Scaf-GRPO) or steps (prefix hints); 0 = no hint
    rate: float | None = None  # SEELE hinting rate in [0, 1]
    placement: str = "prompt"
    scored: bool = False

    def __post_init__(self):
        if self.placement not in HINT_PLACEMENTS:
            raise ValueError(f"Hint.placement must be one of {HINT_PLACEMENTS}, got {self.placement!r}")

    @property
    def in_response(self) -> bool:
        return self.placement == "response"

    @property
    def name(self) -> str:
        return f"{self.tier[0].upper()}{self.level}" if self.level else "none"


@dataclass
class Rollout:
    """One sampled completion, with the exact prompt tokens it was generated from."""

    problem: Problem
    prompt_ids: list[int]  # the prompt the row is trained under (for placement "dropped", not the sampled one)
    completion_ids: list[int]  # what is trained as the response: hint tokens opening it (if any) + generated
    text: str  # the text of completion_ids: the response as trained (hint prefix + generated)
    reward: float = 0.0
    reward_terms: dict[str, float] = field(default_factory=dict)
    correct: bool = False
    hint: Hint | None = None
    # tokens at the start of completion_ids that are the hint (trained as response), not generated
    hint_token_count: int = 0
    round: int = 0
    verifier_timed_out: bool = False
    truncated: bool = False
    # how the hint tokens are trained: "rl" with the policy loss like generated ones (Scaf-GRPO's
    # placement='response'); "nll" kept out of the policy loss and given the trainer's supervised term (SEELE)
    hint_loss: str = "rl"
    # the prompt the completion was sampled from when it is not prompt_ids (placement "dropped"), else None
    sampled_prompt_ids: list[int] | None = None
    # the policy-gradient estimator of this row's tokens:
    # * "on_policy": TRL's clipped surrogate, ratio pi_theta / pi_old in the trained context (every plain row; for
    #   forced hint or reference tokens that is advantage-weighted imitation, docs/strategies.md)
    # * "importance": ratio pi_theta(o_t | prompt_ids, o_<t) / pi_b(o_t | sampled_prompt_ids, o_<t), the behaviour
    #   probability of the hinted sampling context, clipped like TRL's (Guide-GRPO)
    # * "off_policy": ratio pi_theta / pi_phi with pi_phi = 1, never clipped, shaped f(p) = p / (p + shaping_gamma)
    #   (LUFFY; shaping_gamma None: f(p) = p)
    estimator: str = "on_policy"
    shaping_gamma: float | None = None

    def __post_init__(self):
        if self.hint_loss not in HINT_LOSSES:
            raise ValueError(f"Rollout.hint_loss must be one of {HINT_LOSSES}, got {self.hint_loss!r}")
        if self.estimator not in ESTIMATORS:
            raise ValueError(f"Rollout.estimator must be one of {ESTIMATORS}, got {self.estimator!r}")


@dataclass
class Group:
    """The rollouts of one problem in one step; its advantage is computed over these together."""

    problem: Problem
    rollouts: list[Rollout]

    @property
    def rewards(self) -> list[float]:
        return [r.reward for r in self.rollouts]

    @property
    def num_correct(self) -> int:
        return sum(r.correct for r in self.rollouts)

    @property
    def all_wrong(self) -> bool:
        return self.num_correct == 0

    @property
    def zero_advantage(self) -> bool:
        rewards = self.rewards
        return max(rewards) - min(rewards) < 1e-12


@dataclass
class Batch:
    """All groups of one training step plus what the rollout stage measured while building them."""

    groups: list[Group]
    step: int
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def rollouts(self) -> list[Rollout]:
        return [r for g in self.groups for r in g.rollouts]
