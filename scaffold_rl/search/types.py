"""The plain data of a search: its knobs, one trajectory, one result."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from scaffold_rl.config import knob


@dataclass
class SearchConfig:
    n: int = knob(8, "Samples (majority / best-of-N), beams (beam search, DVTS) or, for MCTS, the number of "
                  "selection-expansion iterations.")
    m: int = knob(4, "Beam search: expansions per surviving beam (N/M beams survive each step). DVTS: width of "
                  "each of the N/M independent subtrees.")
    k: int = knob(4, "MCTS: candidate steps generated when a node is expanded.")
    max_steps: int = knob(8, "Step-level methods: most steps in one trajectory (a longer one dies unscored).")
    lookahead: int = knob(0, "Beam search: greedy steps rolled out past each candidate before it is scored "
                          "(0 = plain beam search).")
    aggregation: Literal["min", "prod", "last", "mean"] = knob(
        "min", "How step scores make one trajectory score (min: Math-Shepherd, prod: Lightman, last: HF).")
    c_uct: float = knob(2.0, "MCTS exploration constant c in Q + c*sqrt(ln N_parent / N) (rStar-Math: 2).")
    mcts_eval: Literal["scorer", "rollout"] = knob(
        "scorer", "MCTS value of a new node: 'scorer' = the scorer's score of its steps (PRM), mapped to [-1, 1]; "
        "'rollout' = one sampled completion to the end, scored by the scorer, +1 if >= 0.5 else -1 (rStar's "
        "terminal-guided annotation when the scorer is the outcome verifier).")
    temperature: float = knob(1.0, "Sampling temperature of every generated step or solution.")
    max_new_tokens: int = knob(64, "Most generated tokens in one whole trajectory.")
    step_chunk_tokens: int = knob(16, "Tokens generated per call while looking for the end of one step; the "
                                  "tokens past the step's end are spent but discarded (the backend has no stop "
                                  "strings). ~1.5x the usual step length keeps the waste small.")
    max_step_tokens: int = knob(48, "Longest single step; a step still open after this many tokens ends the "
                                "trajectory as invalid.")
    code_steps: bool = knob(False, "Step-level methods: a step carrying a ```python block is kept only if the code "
                            "of all its trajectory's steps runs in the sandbox (rStar-Math code-augmented CoT).")
    code_timeout_s: float = knob(5.0, "Wall-clock bound of one sandboxed code check.")
    seed: int = knob(0, "Seed of all sampling in one search.")

    def __post_init__(self):
        for name in ("n", "m", "k", "max_steps", "max_new_tokens", "step_chunk_tokens", "max_step_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"search.{name} must be >= 1, got {getattr(self, name)}")
        if self.lookahead < 0:
            raise ValueError(f"search.lookahead must be >= 0, got {self.lookahead}")


@dataclass
class Trajectory:
    steps: list[str] = field(default_factory=list)
    finished: bool = False  # the model ended it (eos) on a complete step
    dead: bool = False  # cut off: too long, too many steps, or a step whose code failed
    tokens: int = 0  # tokens generated for this trajectory alone, discarded overshoot included
    score: float | None = None  # aggregated scorer value (None: not scored)
    step_scores: list[float] | None = None
    answer: str | None = None
    value: float | None = None  # MCTS: Q of the trajectory's last node
    step_values: list[float] | None = None  # MCTS: Q of every node on the path, first step to last

    @property
    def text(self) -> str:
        return "".join(self.steps)

    def child(self, step: str, tokens: int, finished: bool, dead: bool = False) -> "Trajectory":
        return Trajectory(self.steps + [step], finished, dead, self.tokens + tokens)


@dataclass
class SearchResult:
    method: str
    answer: str | None  # the chosen final answer (canonical form), None if nothing finished
    chosen: Trajectory | None
    trajectories: list[Trajectory]  # every finished trajectory the method considered
    tokens: int  # generated tokens spent by the whole search, exactly as the backend returned them
    votes: dict[str, float] = field(default_factory=dict)  # answer -> count or summed score, where used
    stats: dict[str, float] = field(default_factory=dict)
