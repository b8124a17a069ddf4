"""The policy as search sees it: whole solutions or one step at a time, with every generated token counted.

Any `rollout.generation.Generator` backs it (transformers on CPU, vLLM on GPU). The Generator protocol has no
stop strings, so one step is found by generating `step_chunk_tokens` at a time and cutting at the step
segmenter's first boundary; tokens past the cut are spent (and counted) but discarded. The cut is made on
text, so it is exact for the character-level embedded model and for sub-word models alike (a step boundary
inside a sub-word token cuts the token's text; the next step starts from the re-encoded text).
"""
from __future__ import annotations

from collections.abc import Callable

from scaffold_rl.rollout.generation import Generator, SamplingParams
from scaffold_rl.sandbox import SandboxLimits, extract_code, run_python
from scaffold_rl.search.types import SearchConfig, Trajectory
from scaffold_rl.types import Problem
from scaffold_rl.verify import canonical_answer


class SearchPolicy:
    def __init__(self, generator: Generator, tokenizer, renderer, segmenter,
                 extract_answer: Callable[[str], str | None], cfg: SearchConfig):
        self.generator = generator
        self.tokenizer = tokenizer
        self.renderer = renderer
        self.segmenter = segmenter
        self.extract_answer = extract_answer
        self.cfg = cfg
        self.tokens = 0  # every token the backend returned through this policy
        self.stats = {"code_checked": 0, "code_failed": 0}
        self._calls = 0
        self._prompts: dict[str, list[int]] = {}

    # --- token plumbing ---------------------------------------------------------------------------------

    def prompt_ids(self, problem: Problem) -> list[int]:
        if problem.id not in self._prompts:
            self._prompts[problem.id] = list(self.renderer.render(problem).prompt_ids)
        return self._prompts[problem.id]

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _generate(self, prompts: list[list[int]], max_tokens: int, greedy: bool):
        params = SamplingParams(max_new_tokens=max_tokens, temperature=self.cfg.temperature, greedy=greedy)
        self._calls += 1
        completions = self.generator.generate(prompts, params, seed=(self.cfg.seed * 1_000_003 + self._calls) % 2**31)
        self.tokens += sum(len(c.ids) for c in completions)
        return completions

    def answer(self, traj: Trajectory) -> str | None:
        """Canonical final answer of a finished trajectory (None if unfinished or no answer)."""
        if not traj.finished or traj.dead:
            return None
        found = self.extract_answer(traj.text)
        return canonical_answer(found) if found is not None else None

    # --- whole solutions --------------------------------------------------------------------------------

    def complete(self, problem: Problem, prefixes: list[Trajectory], greedy: bool = False) -> list[Trajectory]:
        """Each prefix continued to the end (eos) or the token budget, in one generation call."""
        if not prefixes:
            return []
        base = self.prompt_ids(problem)
        prompts = [base + self.encode(t.text) for t in prefixes]
        used = max(len(p) - len(base) for p in prompts)
        budget = max(1, self.cfg.max_new_tokens - used)
        out = []
        for t, c in zip(prefixes, self._generate(prompts, budget, greedy)):
            steps = t.steps + self.segmenter.split(self.decode(c.ids))
            done = Trajectory(steps, finished=not c.truncated, dead=c.truncated, tokens=t.tokens + len(c.ids))
            done.answer = self.answer(done)
            out.append(done)
        return out

    # --- one step ---------------------------------------------------------------------------------------

    def extend(self, problem: Problem, trajs: list[Trajectory], greedy: bool = False) -> list[Trajectory]:
        """Each trajectory plus one generated step. A step the model ends with eos finishes the trajectory; one
        that outgrows `max_step_tokens`, the token budget or `max_steps` kills it; with `code_steps`, a step whose
        code does not run kills it."""
        cfg = self.cfg
        base = self.prompt_ids(problem)
        contexts = [base + self.encode(t.text) for t in trajs]
        new_ids: list[list[int]] = [[] for _ in trajs]  # the model's own tokens of the step being generated
        texts = [""] * len(trajs)
        spent = [0] * len(trajs)
        out: list[Trajectory | None] = [None] * len(trajs)
        pending = list(range(len(trajs)))
        while pending:
            prompts = [contexts[i] + new_ids[i] for i in pending]
            room = max(cfg.max_new_tokens - (len(p) - len(base)) for p in prompts)
            completions = self._generate(prompts, max(1, min(cfg.step_chunk_tokens, room)), greedy)
            still = []
            for i, prompt, c in zip(pending, prompts, completions):
                spent[i] += len(c.ids)
                new_ids[i] += c.ids
                texts[i] = self.decode(new_ids[i])  # decoded whole: sub-word joins stay right
                pieces = self.segmenter.split(texts[i])
                too_long = spent[i] >= cfg.max_step_tokens or len(prompt) - len(base) + len(c.ids) >= cfg.max_new_tokens
                if len(pieces) >= 2:
                    out[i] = trajs[i].child(pieces[0], spent[i], finished=False)
                elif not c.truncated:
                    out[i] = trajs[i].child(texts[i], spent[i], finished=True)
                elif too_long:
                    out[i] = trajs[i].child(texts[i], spent[i], finished=False, dead=True)
                else:
                    still.append(i)
            pending = still
        for t in out:
            if not t.finished and len(t.steps) >= cfg.max_steps:
                t.dead = True
            if cfg.code_steps and not t.dead:
                self._check_code(t)
            t.answer = self.answer(t)
        return out

    def _check_code(self, traj: Trajectory) -> None:
        """rStar-Math: the newest step's code, run after all earlier steps' code, must execute."""
        if extract_code(traj.steps[-1]) is None:
            return
        self.stats["code_checked"] += 1
        result = run_python(extract_code(traj.text), SandboxLimits(timeout_s=self.cfg.code_timeout_s))
        if not result.ok:
            self.stats["code_failed"] += 1
            traj.dead = True
