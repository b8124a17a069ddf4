"""Math-Shepherd labels on a scripted policy whose success rate from every prefix is known by construction."""
import json
from collections import Counter

import pytest

from scaffold_rl.data.arithmetic import make_problem
from scaffold_rl.models.embedded import build_tokenizer
from scaffold_rl.prm.exact import exact_labels_of_response, exact_step_labels
from scaffold_rl.prm.label import LabelConfig, StepLabeler, write_label_dataset
from scaffold_rl.rewards.correctness import CorrectnessReward
from scaffold_rl.rollout.generation import Completion, SamplingParams
from scaffold_rl.rollout.prompts import PlainRenderer
from scaffold_rl.rollout.sampler import Sampler
from scaffold_rl.steps import StepSegmenter

PROBLEM = make_problem(143, [("-", 7), ("+", 8), ("+", 5), ("-", 2)])  # 136, 144, 149, 147
WRONG = "143-7=136.136+8=145.145+5=150.150-2=148.\nA:148"  # first error at step 1
K, GOOD = 4, 3  # from a still-correct prefix, 3 of every 4 completions finish correctly


class ScriptedPolicy:
    """Bare prompt: the WRONG solution. From a correct prefix: the right continuation for the first GOOD of
    every K copies, a wrong answer for the rest; from a broken prefix: always a wrong answer."""

    def __init__(self, tokenizer):
        self.tok = tokenizer
        self.calls = 0

    def generate(self, prompts, params, seed=None):
        self.calls += 1
        seen, out = Counter(), []
        for ids in prompts:
            text = self.tok.decode(ids, skip_special_tokens=True)
            prefix = text.split("S:", 1)[1]
            copy = seen[text]
            seen[text] += 1
            if not prefix:
                rest = WRONG
            else:
                steps = StepSegmenter("embedded").split(prefix)
                ok = all(exact_step_labels(PROBLEM, steps))
                full = PROBLEM.reference
                rest = full[len(prefix):] if ok and copy % K < GOOD else "\nA:1"
            out.append(Completion(self.tok(rest, add_special_tokens=False)["input_ids"] + [self.tok.eos_token_id],
                                  False))
        return out


def labeler(method, solutions=1):
    tok = build_tokenizer()
    sampler = Sampler(ScriptedPolicy(tok), PlainRenderer(tok), CorrectnessReward("answer", r"A:(-?\d+)"), tok,
                      SamplingParams())
    return StepLabeler(sampler, StepSegmenter("embedded"), LabelConfig(completions=K, solutions=solutions,
                                                                        method=method))


def test_exact_labels_follow_the_first_error():
    steps, labels = exact_labels_of_response(PROBLEM, WRONG)
    assert labels == [1, 0, 0, 0, 0]
    assert exact_labels_of_response(PROBLEM, PROBLEM.reference)[1] == [1, 1, 1, 1, 1]
    # arithmetic right but not the problem's operation; an extra step; a wrong answer line
    assert exact_step_labels(PROBLEM, ["143+7=150."]) == [0]
    assert exact_step_labels(PROBLEM, [*PROBLEM.solution_steps, "147+1=148."]) == [1, 1, 1, 1, 0]
    assert exact_step_labels(PROBLEM, [*PROBLEM.solution_steps, "\nA:146"]) == [1, 1, 1, 1, 0]


def test_mc_hard_and_soft_labels():
    [rec] = labeler("mc").label_problems([PROBLEM], seed=0)
    assert rec.steps == StepSegmenter("embedded").split(WRONG) and not rec.correct
    assert rec.soft == [GOOD / K, 0.0, 0.0, 0.0, 0.0]  # last step: the solution's own verdict
    assert rec.hard == [1, 0, 0, 0, 0] and rec.first_error == 1
    assert rec.completions == 4 * K  # every prefix but the full solution


def test_soft_differs_from_hard_on_a_correct_solution():
    lab = labeler("mc")
    [(hard, soft, spent)] = lab.label_solutions([(PROBLEM, PROBLEM.reference, True)], seed=0)
    assert hard == [1, 1, 1, 1, 1]
    assert soft == [0.75, 0.75, 0.75, 0.75, 1.0]
    assert spent == 4 * K


def test_binary_search_finds_the_first_error_cheaper():
    [rec] = labeler("binary").label_problems([PROBLEM], seed=0)
    assert rec.hard == [1, 0, 0, 0, 0] and rec.first_error == 1
    # bounds [0, 4]: mid 2 fails -> [0, 2]; mid 1 fails -> [0, 1]; mid 0 succeeds -> first error 1
    assert rec.completions == 3 * K
    assert rec.soft == [0.75, 0.0, 0.0, None, 0.0]
    [(hard, soft, spent)] = labeler("binary").label_solutions([(PROBLEM, PROBLEM.reference, True)], seed=0)
    assert hard == [1] * 5 and spent == 0  # a correct solution witnesses every prefix


def test_dataset_is_resumable(tmp_path):
    out = tmp_path / "labels.jsonl"
    problems = [PROBLEM, make_problem(200, [("+", 1), ("+", 2)])]
    lab = labeler("mc", solutions=2)
    lab.config.chunk = 1
    first = write_label_dataset(lab, problems[:1], out, log=lambda m: None)
    assert first["solutions"] == 2 and first["completions"] == 2 * 4 * K
    calls = lab.sampler.generator.calls
    with out.open("a") as f:
        f.write('{"id": "partial')  # killed mid-write
    again = write_label_dataset(lab, problems, out, log=lambda m: None)
    assert again["resumed_problems"] == 1 and again["solutions"] == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"{PROBLEM.id}#0", f"{PROBLEM.id}#1", f"{problems[1].id}#0",
                                       f"{problems[1].id}#1"]
    assert lab.sampler.generator.calls == calls + 2  # only the new problem was sampled (solutions + prefixes)


def test_bad_method():
    with pytest.raises(ValueError, match="method"):
        LabelConfig(method="omega")
