"""Reference injection (LUFFY-like control): an all-wrong group gets the reference completion instead of a hint.

Same exemption, trigger and replacement as Scaf-GRPO (CliffRescue), but no hint search and no generation:
`replace` failures of each triggered group become the problem's full reference completion, trained under the
original prompt. Our CPU trial found it at least as strong as hinting on the embedded task, which makes it the
control that tells "learning from reference tokens" apart from "scaffolded self-completion".
"""
from __future__ import annotations

import dataclasses

from scaffold_rl.strategies.base import register
from scaffold_rl.strategies.scaf_grpo import CliffRescue, plain_prompt_ids
from scaffold_rl.types import Group, Hint, Problem, Rollout


def reference_rollout(problem: Problem, ctx) -> Rollout:
    """The reference as a rollout of the unhinted prompt, ending in eos (so stopping is learned too), scored by
    the run's own reward. All its tokens are reference, none generated: hint_token_count covers them."""
    tok = ctx.sampler.tokenizer
    ids = list(tok(problem.reference, add_special_tokens=False)["input_ids"])
    if tok.eos_token_id is not None:
        ids.append(tok.eos_token_id)
    score = ctx.sampler.score(problem, problem.reference, len(ids))  # scored like a sampled row of its group
    hint = Hint(problem.reference, tier="reference", level=max(1, len(problem.solution_steps)), placement="response",
                scored=True)
    return Rollout(problem=problem, prompt_ids=plain_prompt_ids(ctx, problem), completion_ids=ids,
                   text=problem.reference, reward=score.reward, correct=score.correct, hint=hint,
                   hint_token_count=len(ids), round=1, verifier_timed_out=score.timed_out)


def copy_rollout(r: Rollout) -> Rollout:
    return dataclasses.replace(r, prompt_ids=list(r.prompt_ids), completion_ids=list(r.completion_ids))


@register
class ReferenceInjection(CliffRescue):
    name = "reference"

    @classmethod
    def from_config(cls, config) -> ReferenceInjection:
        return cls(**cls.common_kwargs(config))

    def blank_stats(self):
        return {"scaf/no_reference": 0.0, "scaf/reference_rejected": 0.0}

    def find_successes(self, groups: list[Group], ctx, stats: dict) -> list[list[Rollout]]:
        """`replace` copies of the reference per group; none when the problem has no reference (counted) or the
        run's reward does not accept it (counted: it would add no advantage, only noise)."""
        out, missing, rejected = [], 0, 0
        for g in groups:
            if not g.problem.reference:
                missing += 1
                out.append([])
                continue
            ref = reference_rollout(g.problem, ctx)
            rejected += not ref.correct
            out.append([copy_rollout(ref) for _ in range(self.replace)] if ref.correct else [])
        stats["scaf/no_reference"] = float(missing)
        stats["scaf/reference_rejected"] = float(rejected)
        return out
