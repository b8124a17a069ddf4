"""Search methods on a scripted generator whose answers are known: the choice, the pruning, the UCT
arithmetic, the backed-up values and the token count are all computed by hand."""
import math

import pytest

from scaffold_rl.rollout.generation import Completion
from scaffold_rl.search import PRMScorer, SearchConfig, SearchPolicy, run_search
from scaffold_rl.search.mcts import Node, backup, select, uct
from scaffold_rl.search.types import Trajectory
from scaffold_rl.steps import StepSegmenter
from scaffold_rl.types import Problem

EOS = 0
PROBLEM = Problem(id="p", prompt="Q:1+1=?\nS:", answer="2")


class CharTokenizer:
    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids if i != EOS)


class Renderer:
    def render(self, problem):
        return type("R", (), {"prompt_ids": [ord(c) for c in problem.prompt]})()


class ScriptedGenerator:
    """`choices[prefix]` lists continuations (cycled) for a response that is exactly `prefix`; '$' = eos. A
    response between step boundaries continues the unique scripted text it is a prefix of."""

    def __init__(self, choices):
        self.choices = choices
        self.turn = {k: 0 for k in choices}
        self.asked = []  # response texts the policy asked to continue

    def _continuation(self, response):
        if response in self.choices:
            options = self.choices[response]
            text = options[self.turn[response] % len(options)]
            self.turn[response] += 1
            return text
        fits = [(k + c)[len(response):] for k, cs in self.choices.items() for c in cs
                if response.startswith(k) and (k + c).startswith(response)]
        assert len(set(fits)) == 1, f"script is ambiguous or silent after {response!r}: {fits}"
        return fits[0]

    def generate(self, prompts, params, seed=None):
        out = []
        for p in prompts:
            response = "".join(map(chr, p))[len(PROBLEM.prompt):]
            self.asked.append(response)
            text = self._continuation(response)
            ids = [EOS if ch == "$" else ord(ch) for ch in text]
            if len(ids) > params.max_new_tokens:
                out.append(Completion(ids[: params.max_new_tokens], truncated=True))
            else:
                out.append(Completion(ids, truncated=ids[-1] != EOS))
        return out


class TablePRM:
    """Step score = table[step text] (0.5 if absent), independent of the prefix."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def score_steps_batch(self, items):
        self.calls.append(items)
        return [[self.table.get(s, 0.5) for s in steps] for _, steps in items]


def answer_of(text):
    import re

    found = re.findall(r"A:(-?\d+)", text)
    return found[-1] if found else None


def make_policy(choices, mode="embedded", **cfg):
    gen = ScriptedGenerator(choices)
    config = SearchConfig(**cfg)
    return SearchPolicy(gen, CharTokenizer(), Renderer(), StepSegmenter(mode), answer_of, config), gen, config


def test_majority_vote_picks_most_frequent_answer_and_counts_tokens():
    policy, _, cfg = make_policy({"": ["1+1=2.\nA:2$", "1+1=3.\nA:3$", "1+2=3.\nA:3$"]}, n=3)
    res = run_search("majority", policy, PROBLEM, None, cfg)
    assert res.answer == "3" and res.votes == {"2": 1.0, "3": 2.0}
    assert res.tokens == 3 * 11  # 10 characters + eos each
    assert [t.tokens for t in res.trajectories] == [11, 11, 11]
    assert res.trajectories[0].steps == ["1+1=2.", "\nA:2"]


def test_truncated_samples_do_not_vote():
    policy, _, cfg = make_policy({"": ["1+1=2.\nA:2$", "1+1=9.\nA:9 and more text$"]}, n=4, max_new_tokens=12)
    res = run_search("majority", policy, PROBLEM, None, cfg)
    assert res.votes == {"2": 2.0}
    assert res.tokens == 11 + 12 + 11 + 12


def test_best_of_n_and_weighted_best_of_n_differ_as_computed_by_hand():
    script = {"": ["9.\nA:5$", "7.\nA:7$", "8.\nA:7$"]}
    prm = TablePRM({"9.": 0.9, "\nA:5": 0.95, "7.": 0.4, "8.": 0.45, "\nA:7": 0.9})
    policy, _, cfg = make_policy(script, n=3, aggregation="min")
    best = run_search("best_of_n", policy, PROBLEM, PRMScorer(prm, "min"), cfg)
    assert best.answer == "5" and best.chosen.score == pytest.approx(0.9)
    policy, _, cfg = make_policy(script, n=3)
    weighted = run_search("weighted_best_of_n", policy, PROBLEM, PRMScorer(prm, "min"), cfg)
    # sums: 5 -> 0.9; 7 -> 0.4 + 0.45 = 0.85: still 5. With 'last' aggregation: 5 -> 0.95, 7 -> 0.9 + 0.9 = 1.8
    assert weighted.answer == "5" and weighted.votes["7"] == pytest.approx(0.85)
    policy, _, cfg = make_policy(script, n=3)
    weighted = run_search("weighted_best_of_n", policy, PROBLEM, PRMScorer(prm, "last"), cfg)
    assert weighted.answer == "7" and weighted.votes == pytest.approx({"5": 0.95, "7": 1.8})
    assert weighted.chosen.text == "7.\nA:7"  # first of the tied 0.9 trajectories


def first_steps_script():
    # a step is complete once the next one has begun, so the root samples run on (those tokens count)
    return {"": ["1.\nA:1$", "2.\nA:2$", "3.\nA:3$", "4.\nA:4$"],
            "1.": ["\nA:1$"], "2.": ["\nA:2$"], "3.": ["\nA:3$"], "4.": ["\nA:4$"]}


def test_beam_search_keeps_top_n_over_m_and_expands_each_m_times():
    prm = TablePRM({"1.": 0.95, "2.": 0.9, "3.": 0.1, "4.": 0.2, "\nA:1": 0.3, "\nA:2": 0.8})
    policy, gen, cfg = make_policy(first_steps_script(), n=4, m=2, step_chunk_tokens=8)
    res = run_search("beam", policy, PROBLEM, PRMScorer(prm, "min"), cfg)
    # step 1: root x4 -> 1,2,3,4; keep 1 and 2 (top N/M = 2); step 2: each x2 -> four finished answers
    assert gen.asked[:4] == ["", "", "", ""] and sorted(gen.asked[4:]) == ["1.", "1.", "2.", "2."]
    assert res.stats["pruned"] == 2
    assert sorted(t.answer for t in res.trajectories) == ["1", "1", "2", "2"]
    # min aggregation: "1." then "\nA:1" -> 0.3 ; "2." then "\nA:2" -> 0.8
    assert res.answer == "2" and res.chosen.score == pytest.approx(0.8)
    assert res.tokens == 4 * 7 + 4 * 5


def test_dvts_subtrees_are_independent():
    prm = TablePRM({"1.": 0.95, "2.": 0.9, "3.": 0.1, "4.": 0.2, "\nA:4": 0.9, "\nA:1": 0.3})
    policy, gen, cfg = make_policy(first_steps_script(), n=4, m=2, step_chunk_tokens=8)
    res = run_search("dvts", policy, PROBLEM, PRMScorer(prm, "min"), cfg)
    # subtree 0 sees 1, 2 and keeps 1; subtree 1 sees 3, 4 and keeps 4 (plain beam search would drop 4)
    assert sorted(gen.asked[4:]) == ["1.", "1.", "4.", "4."]
    assert sorted(t.answer for t in res.trajectories) == ["1", "1", "4", "4"]
    assert res.answer == "1"  # min(0.95, 0.3) = 0.3 > min(0.2, 0.9) = 0.2


def test_lookahead_ranks_by_the_greedy_continuation():
    script = {"": ["1.5.\nA:1$", "2.6.\nA:2$"], "1.": ["5.\nA:1$"], "2.": ["6.\nA:2$"], "1.5.": ["\nA:1$"],
              "2.6.": ["\nA:2$"]}
    prm = TablePRM({"1.": 0.9, "2.": 0.6, "5.": 0.0, "6.": 0.8})
    policy, gen, cfg = make_policy(script, n=2, m=2, lookahead=1, aggregation="last", max_steps=3)
    res = run_search("beam", policy, PROBLEM, PRMScorer(prm, "last"), cfg)
    # without lookahead "1." (0.9) survives; its greedy next step scores 0.0, that of "2." 0.8
    assert gen.asked[2:4] == ["1.", "2."]  # the lookahead probes
    assert gen.asked[4:6] == ["2.", "2."]  # the survivor, expanded M = 2 times
    assert res.answer == "2"
    policy, gen, cfg = make_policy(script, n=2, m=2, lookahead=0, aggregation="last", max_steps=3)
    run_search("beam", policy, PROBLEM, PRMScorer(prm, "last"), cfg)
    assert gen.asked[2:4] == ["1.", "1."]


def test_step_generation_cuts_at_the_step_end_and_counts_overshoot():
    policy, gen, cfg = make_policy({"": ["12345.\nA:1$"]}, step_chunk_tokens=3)
    first = policy.extend(PROBLEM, [Trajectory()])[0]
    assert first.steps == ["12345."] and not first.finished and first.tokens == 9  # "123" "45." "\nA:"
    second = policy.extend(PROBLEM, [first])[0]
    assert second.steps == ["12345.", "\nA:1"] and second.finished and second.answer == "1"
    assert second.tokens == 9 + 5 and policy.tokens == 14  # "\nA:" then "1" + eos


def test_a_step_that_never_ends_kills_the_trajectory():
    policy, _, cfg = make_policy({"": ["1" * 40 + "$"]}, step_chunk_tokens=8, max_step_tokens=16)
    t = policy.extend(PROBLEM, [Trajectory()])[0]
    assert t.dead and t.tokens == 16
    policy, _, cfg = make_policy({"": ["1" * 40 + "$"]}, step_chunk_tokens=16, max_new_tokens=10)
    t = policy.extend(PROBLEM, [Trajectory()])[0]
    assert t.dead and t.tokens == 10  # the chunk is cut to the response budget


def test_uct_arithmetic():
    assert uct(1.5, 3, 10, 2.0) == pytest.approx(0.5 + 2 * math.sqrt(math.log(10) / 3))
    assert uct(0.0, 0, 5, 2.0) == math.inf
    assert uct(-1.0, 1, 1, 2.0) == pytest.approx(-1.0)  # ln 1 = 0: no exploration bonus


def test_select_and_backup_on_a_hand_built_tree():
    root = Node(Trajectory())
    a, b = Node(Trajectory(["a."]), root), Node(Trajectory(["b."]), root)
    root.children = [a, b]
    backup(a, 0.8)
    backup(b, -0.6)
    assert (root.visits, root.q) == (2, pytest.approx(0.2))
    assert select(root, 2.0) is a  # 0.8 + 2 sqrt(ln 2) > -0.6 + 2 sqrt(ln 2)
    a2 = Node(Trajectory(["a.", "c."]), a)
    a.children = [a2]
    backup(a2, -0.8)
    assert (a.visits, a.Q) == (2, pytest.approx(0.0))
    assert (root.visits, root.Q) == (3, pytest.approx(-0.6 / 3))
    # b: -0.6 + 2 sqrt(ln 3 / 1) = 1.496 ; a: 0 + 2 sqrt(ln 3 / 2) = 1.482 -> b
    assert select(root, 2.0) is b


def test_mcts_values_and_choice_by_hand():
    script = {"": ["1.\nA:1$", "2.\nA:2$"], "1.": ["\nA:1$", "\nA:9$"], "2.": ["\nA:2$"]}
    prm = TablePRM({"1.": 0.9, "2.": 0.2, "\nA:1": 0.9, "\nA:9": 0.1})
    policy, gen, cfg = make_policy(script, n=2, k=2, c_uct=2.0)
    res = run_search("mcts", policy, PROBLEM, PRMScorer(prm, "min"), cfg)
    # it 1: root -> "1." (2*0.9-1 = 0.8), "2." (-0.6); it 2: UCT picks "1." -> "\nA:1" (min .9 -> 0.8), "\nA:9" (-0.8)
    assert gen.asked == ["", "", "1.", "1."]
    assert res.stats["root_visits"] == 4
    assert res.answer == "1" and res.chosen.value == pytest.approx(0.8)
    assert res.chosen.step_values == pytest.approx([(0.8 + 0.8 - 0.8) / 3, 0.8])  # Q("1.") after 3 visits
    assert sorted(t.answer for t in res.trajectories) == ["1", "9"]


def test_mcts_finishes_the_most_visited_path_when_nothing_finished():
    script = {"": ["1.\nA:1$", "2.\nA:2$"], "1.": ["\nA:1$"], "2.": ["\nA:2$"]}
    prm = TablePRM({"1.": 0.4, "2.": 0.6})
    policy, gen, cfg = make_policy(script, n=1, k=2)
    res = run_search("mcts", policy, PROBLEM, PRMScorer(prm, "min"), cfg)
    # one iteration: both children visited once; the tie goes to the higher Q ("2.": 2*0.6-1 = 0.2 > -0.2)
    assert res.answer == "2" and res.stats["greedy_finish"] == 1 and gen.asked == ["", "", "2."]
    assert res.tokens == 2 * 7 + 5


def test_mcts_rollout_evaluation_with_outcome_scorer():
    from scaffold_rl.search import OutcomeScorer

    script = {"": ["1+1=2.\nA:2$", "1+1=3.\nA:3$"], "1+1=2.": ["\nA:2$"], "1+1=3.": ["\nA:3$"]}
    scorer = OutcomeScorer(lambda p, text: answer_of(text) == p.answer)
    policy, gen, cfg = make_policy(script, n=3, k=2, mcts_eval="rollout")
    res = run_search("mcts", policy, PROBLEM, scorer, cfg)
    # it 1: both first steps rolled out: +1 / -1; it 2 expands "1+1=2." (Q 1), it 3 expands "1+1=3."
    assert res.answer == "2" and res.chosen.value == pytest.approx(1.0)
    # the rollouts are candidates (and training data) too, valued by their node's Q, one value per step
    wrong = [t for t in res.trajectories if t.text == "1+1=3.\nA:3"]
    assert wrong and wrong[0].value < 0 and len(wrong[0].step_values) == 2


def test_code_steps_are_kept_only_if_their_code_runs():
    good = "```python\nx = 1\n```\n\n"
    bad = "```python\nx = 1 / 0\n```\n\n"
    check = "```python\nassert x == 1\n```\n\n"
    script = {"": [bad + "A:0$", good + check + "A:1$"], good: [check + "A:1$"], good + check: ["A:1$"], bad: ["A:0$"]}
    prm = TablePRM({bad: 0.99, good: 0.5})
    policy, gen, cfg = make_policy(script, mode="blank_line", n=1, m=2, code_steps=True, step_chunk_tokens=64,
                                   max_step_tokens=64)
    res = run_search("beam", policy, PROBLEM, PRMScorer(prm, "min"), cfg)
    assert res.answer == "1" and res.stats["dead"] == 1
    # bad, good, then twice (M = 2 expansions of the survivor) good + `assert x == 1`, which needs x from step 1
    assert policy.stats == {"code_checked": 4, "code_failed": 1}
    # without the check the higher-scored broken step wins
    policy, gen, cfg = make_policy(script, mode="blank_line", n=1, m=2, step_chunk_tokens=64, max_step_tokens=64)
    assert run_search("beam", policy, PROBLEM, PRMScorer(prm, "min"), cfg).answer == "0"


def test_methods_that_rank_need_a_scorer():
    policy, _, cfg = make_policy({"": ["1.\nA:1$"]})
    with pytest.raises(ValueError, match="needs a scorer"):
        run_search("beam", policy, PROBLEM, None, cfg)
    with pytest.raises(ValueError, match="must be one of"):
        run_search("nope", policy, PROBLEM, None, cfg)


@pytest.mark.parametrize("method", ["beam", "mcts"])
def test_real_hf_model_steps_end_at_newlines_and_every_token_is_counted(tmp_path, method):
    """A tiny random byte-level-BPE Qwen2 on a benchmark file: a search's token total equals the backend's own
    count, and a live generated step ends at a newline (the benchmark tasks' segmenter)."""
    from scaffold_rl.models.loading import load_hf_model
    from scaffold_rl.search.build import make_scorer, make_search_policy
    from scaffold_rl.tasks import build_task
    from tests.conftest import tiny_config
    from tests.test_real_models import save_tiny

    cfg = tiny_config(tmp_path)
    cfg.model.path = str(save_tiny("qwen2", tmp_path / "q"))
    cfg.task.name, cfg.reward.kind, cfg.eval.n_per_level = "gsm8k", "answer", 1
    task = build_task(cfg)
    model, tok = load_hf_model(cfg.model.path, echo=lambda *a: None)
    scfg = SearchConfig(n=2, m=2, k=2, max_steps=3, max_new_tokens=24, step_chunk_tokens=6, max_step_tokens=12)
    policy = make_search_policy(cfg, scfg, model, tok, task)
    problem = task.eval_problems(1)[0][0]
    res = run_search(method, policy, problem, make_scorer("verifier", cfg, task, "min"), scfg)
    assert res.tokens == policy.generator.tokens_generated > 0
    kids = policy.extend(problem, [Trajectory()] * 2)
    for t in kids:
        assert len(t.steps) == 1 and (t.dead or t.finished or "\n" in t.steps[0])


def test_search_many_totals():
    from scaffold_rl.search.build import search_many

    policy, _, cfg = make_policy({"": ["1+1=2.\nA:2$", "1+1=2.\nA:2$", "x$"]}, n=3)
    other = Problem(id="q", prompt=PROBLEM.prompt, answer="5")
    totals, results = search_many("majority", policy, [PROBLEM, other], None, cfg,
                                  lambda answer, p: answer == p.answer)
    # both problems see the same script: answer 2 (right for p, wrong for q); tokens 11 + 11 + 2 each
    assert totals["problems"] == 2 and totals["accuracy"] == 0.5
    assert totals["tokens_per_problem"] == 24 and totals["no_answer"] == 0.0
