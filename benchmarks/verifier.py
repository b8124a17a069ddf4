"""The answer checker on real model outputs: agreement with ProcessBench's human labels, ours vs plain math-verify.

    .venv/bin/python benchmarks/verifier.py              # ProcessBench agreement + gold self-check
    .venv/bin/python benchmarks/verifier.py --ablations  # ... and each rule of the checker switched off
    .venv/bin/python benchmarks/verifier.py --hostile    # worst-case time per call on the hostile corpus

ProcessBench (QwenLM, 1,400 responses of 12 open models to GSM8K and MATH problems) labels each response's
`final_answer_correct` by hand. Gold answers are joined from the shipped GSM8K/MATH files by problem text
(whitespace normalised); rows that do not join are counted and left out. In the same run:

- ours: `Verifier().verify(response, gold)` (scaffold_rl.verify, default settings);
- plain math-verify: `verify(parse(gold), parse(response))`, default configs, as the issue defines it;
- plain, gold in `$...$`: the same with the gold wrapped as lighteval does (a bare gold such as `16\\pi` has no
  math delimiters, so plain math-verify parses nothing from it), a fairer baseline.

Reported per split, per half (dev = each file's first half, held-out = the rest: rules were developed looking
at dev rows; see docs/benchmarks.md for which rules came from where), per generator and per answer form, with
false positives / negatives and time per 1,000 answers. Then every gold answer of the shipped benchmarks is
checked against itself and its common equivalent spellings (must verify) and a wrong number (must not).
Writes benchmarks/results/verifier/verifier.json.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

from scaffold_rl.data.benchmarks import find_data_dir, load_benchmark
from scaffold_rl.verify import Verifier, _as_number, _squash, last_box, shutdown_workers
from scaffold_rl.verify_forms import answer_tag, hash_answer

OUT = Path("benchmarks/results/verifier/verifier.json")
SPLITS = ("gsm8k", "math")
GOLD_SOURCES = {"gsm8k": ("gsm8k", "gsm8k_train"), "math": ("math500", "math_train")}


def _norm(text: str) -> str:
    return " ".join(text.split())


def load_rows(limit: int | None = None) -> tuple[list[dict], dict[str, int]]:
    """ProcessBench rows with their gold answers; and per split how many rows did not join."""
    gold: dict[str, dict[str, str]] = {}
    for split, names in GOLD_SOURCES.items():
        gold[split] = {}
        for name in names:
            for p in load_benchmark(name):
                gold[split].setdefault(_norm(p.prompt), p.answer)
    rows, unjoined = [], {}
    for split in SPLITS:
        lines = (find_data_dir() / f"processbench_{split}.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines if line.strip()][:limit]
        unjoined[split] = 0
        for i, r in enumerate(records):
            answer = gold[split].get(_norm(r["problem"]))
            if answer is None:
                unjoined[split] += 1
                continue
            rows.append({"id": r["id"], "split": split, "half": "dev" if i < len(records) / 2 else "held-out",
                         "generator": r["generator"], "label": bool(r["final_answer_correct"]),
                         "gold": answer, "response": "\n\n".join(r["steps"])})
    return rows, unjoined


def form_of(response: str) -> str:
    """Which rule of the checker finds the answer (for the per-form table)."""
    if last_box(response) is not None:
        return "boxed"
    if answer_tag(response) is not None:
        return "<answer>"
    if hash_answer(response) is not None:
        return "####"
    return "final answer" if "final answer" in response.lower() else "prose"


def plain_math_verify(gold: str, response: str, wrap_gold: bool) -> bool:
    from math_verify import parse, verify

    try:
        return bool(verify(parse(f"${gold}$" if wrap_gold else gold), parse(response)))
    except Exception:
        return False


def run_checkers(rows: list[dict]) -> dict[str, float]:
    """Fills each row's verdicts; returns seconds per 1,000 answers of each checker."""
    verifier = Verifier()
    verifier.warm_up()  # start-up is not per-answer time
    seconds = {}
    start = time.perf_counter()
    for r in rows:
        result = verifier.verify(r["response"], r["gold"])
        r["ours"], r["extracted"], r["timed_out"] = result.correct, result.extracted, result.timed_out
    seconds["ours"] = time.perf_counter() - start
    for key, wrap in (("plain", False), ("plain_gold_in_dollars", True)):
        start = time.perf_counter()
        for r in rows:
            r[key] = plain_math_verify(r["gold"], r["response"], wrap)
        seconds[key] = time.perf_counter() - start
    return {k: 1000 * s / len(rows) for k, s in seconds.items()}


CHECKERS = ("ours", "plain", "plain_gold_in_dollars")


def agreement(rows: list[dict]) -> dict:
    out: dict = {"n": len(rows)}
    for key in CHECKERS:
        agree = sum(r[key] == r["label"] for r in rows)
        out[key] = round(agree / len(rows), 4) if rows else None
        out[f"{key}_wrong"] = len(rows) - agree
    return out


def mistakes(rows: list[dict], key: str) -> dict[str, list[dict]]:
    def item(r: dict) -> dict:
        return {"id": r["id"], "generator": r["generator"], "gold": r["gold"], "extracted": r.get("extracted"),
                "response_end": r["response"][-300:]}

    return {"false_positives": [item(r) for r in rows if r[key] and not r["label"]],
            "false_negatives": [item(r) for r in rows if not r[key] and r["label"]]}


def grouped(rows: list[dict], key: str) -> dict[str, dict]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    return {name: agreement(group) for name, group in sorted(groups.items())}


# --- gold answers against themselves -----------------------------------------------------------------

_INT = re.compile(r"-?\d+")


def equivalent_forms(gold: str) -> list[str]:
    """The gold and the spellings of it a model commonly writes instead."""
    forms = {gold}
    if r"\frac" in gold:
        forms.add(gold.replace(r"\frac", r"\dfrac"))
    if r"\dfrac" in gold or r"\tfrac" in gold:
        forms.add(gold.replace(r"\dfrac", r"\frac").replace(r"\tfrac", r"\frac"))
    if r"\left" in gold:
        forms.add(gold.replace(r"\left", "").replace(r"\right", ""))
    if r"^\circ" in gold or r"^{\circ}" in gold:
        forms.add(gold.replace(r"^\circ", "").replace(r"^{\circ}", ""))
    if r"\%" in gold:
        forms.add(gold.replace(r"\%", ""))
    if gold.startswith(r"\$"):
        forms.add(gold[2:])
    whole_text = re.fullmatch(r"\\text\{([^{}]*)\}", gold)
    if whole_text:
        forms.add(whole_text.group(1))
    number = _as_number(gold)
    if number is not None and number.denominator == 1:
        n = int(number)
        forms |= {str(n), f"{n:,}", f"{n:,}".replace(",", "{,}"), f"{n}.0"}
    return sorted(forms)


def wrong_forms(gold: str, golds: list[str]) -> list[str]:
    """Answers that must not verify: a number one off, and for other golds the next different gold of the
    benchmark that is not the same value (`_fast_equal` and spelling aside, a reader checks any hit by hand)."""
    number = _as_number(gold)
    if number is not None:
        return [str(number + 1) if number.denominator == 1 else str(float(number) + 1)]
    start = golds.index(gold)
    for other in golds[start + 1:] + golds[:start]:
        if _as_number(other) is None and _squash(other) != _squash(gold):
            return [other]
    return []


def in_contexts(form: str, numeric: bool) -> list[str]:
    """A form as a model's closing line: boxed, the Minerva format, prose, an answer tag, GSM8K's `####`."""
    texts = [rf"So the answer is $\boxed{{{form}}}$.",
             f"Final Answer: The final answer is ${form}$. I hope it is correct.",
             rf"Therefore, the answer is \({form}\).",
             f"<answer>{form}</answer>"]
    return texts + [f"So she has {form} left.\n#### {form}"] if numeric else texts


def check_golds(verifier: Verifier, names: list[str]) -> dict:
    report: dict = {}
    for name in names:
        golds = [p.answer for p in load_benchmark(name)]
        wrong: list[dict] = []
        checks = 0
        for gold in golds:
            numeric = _as_number(gold) is not None
            for form in equivalent_forms(gold):
                forced = verifier._slow_check(form, gold)  # math-verify itself, not the string fast path
                texts = in_contexts(form, numeric)
                results = [forced] + [verifier.verify(t, gold) for t in texts]
                checks += len(results)
                for text, result in zip(["(math-verify on the bare form)"] + texts, results):
                    if not result.correct:
                        wrong.append({"gold": gold, "text": text, "extracted": result.extracted,
                                      "timed_out": result.timed_out})
            for off in wrong_forms(gold, golds):
                for text in in_contexts(off, _as_number(off) is not None):
                    checks += 1
                    result = verifier.verify(text, gold)
                    if result.correct:
                        wrong.append({"gold": gold, "text": text, "extracted": result.extracted, "accepted": True})
        report[name] = {"golds": len(golds), "checks": checks, "wrong": len(wrong), "wrong_list": wrong}
    return report


# --- hostile answers -------------------------------------------------------------------------------


def hostile(timeout_s: float) -> dict:
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # the corpus lives beside its tests
    from hostile_answers import corpus

    verifier = Verifier(timeout_s=timeout_s)
    verifier.warm_up()
    cases = []
    for case in corpus():
        v = Verifier(timeout_s=timeout_s, answer_pattern=case.pattern) if case.pattern else verifier
        start = time.perf_counter()
        result = v.verify(case.text, case.gold)
        elapsed = time.perf_counter() - start
        right = None if case.expected is None else result.correct == case.expected
        cases.append({"name": case.name, "chars": len(case.text), "seconds": round(elapsed, 3),
                      "correct": result.correct, "expected": case.expected, "right": right,
                      "timed_out": result.timed_out})
    worst = max(cases, key=lambda c: c["seconds"])
    return {"timeout_s": timeout_s, "cases": cases, "worst_case_s": worst["seconds"], "worst_case": worst["name"],
            "wrong_verdicts": [c["name"] for c in cases if c["right"] is False]}


# --- ablations: each rule of the checker switched off -------------------------------------------------

RULES = ("tail-regions", "variable-mentions", "answer-tag", "hash-line", "control-chars", "escaped-dollar",
         "text-space", "backslash-digit", "latex-thousands", "text-list", "text-words", "closing-period", "frac-args",
         "phantom", "trailing-punct", "chain", "percent", "unparsed-fallback", "unparsed-agree", "exact-numbers")


def our_verdicts(rows: list[dict]) -> dict[str, bool]:
    verifier = Verifier()
    return {r["id"]: verifier.verify(r["response"], r["gold"]).correct for r in rows}


def ablations(rows: list[dict], limit: int | None, out_dir: Path) -> dict:
    """Our agreement with each rule off (a fresh process per rule: the worker reads SCAFFOLD_RL_VERIFY_OFF at
    start-up), and the rows each rule decides."""
    import os
    import subprocess

    full = {r["id"]: r["ours"] for r in rows}
    report = {}
    for rule in RULES + (",".join(RULES),):
        path = out_dir / "ablation_verdicts.json"
        cmd = [sys.executable, __file__, "--verdicts-only", str(path)] + (["--limit", str(limit)] if limit else [])
        env = {**os.environ, "SCAFFOLD_RL_VERIFY_OFF": rule}
        subprocess.run(cmd, env=env, check=True)
        verdicts = json.loads(path.read_text())
        for r in rows:
            r["ablated"] = verdicts[r["id"]]
        entry = {}
        for part in ("all", "dev", "held-out"):
            chosen = [r for r in rows if part in ("all", r["half"])]
            entry[part] = round(sum(r["ablated"] == r["label"] for r in chosen) / len(chosen), 4)
        entry["flipped"] = {r["id"]: {"now_right": r["ours"] == r["label"], "half": r["half"]}
                            for r in rows if r["ablated"] != full[r["id"]]}
        report["all rules" if "," in rule else rule] = entry
    return report


def print_ablations(report: dict, full: dict) -> None:
    print("\nAblations: our agreement with one rule off (rows it decides: fixed / broken by the rule)")
    print(f"{'':20} {'all':>7} {'dev':>7} {'held':>7}   fixed dev/held   broken dev/held")
    print(f"{'(none off)':20} {full['all']['ours']:7.3f} {full['all dev']['ours']:7.3f} "
          f"{full['all held-out']['ours']:7.3f}")
    for rule, e in report.items():
        fixed = [i for i, f in e["flipped"].items() if f["now_right"]]
        broken = [i for i, f in e["flipped"].items() if not f["now_right"]]

        def halves(ids: list[str]) -> str:
            dev = sum(e["flipped"][i]["half"] == "dev" for i in ids)
            return f"{dev}/{len(ids) - dev}"

        print(f"{rule:20} {e['all']:7.3f} {e['dev']:7.3f} {e['held-out']:7.3f}   {halves(fixed):>14}   "
              f"{halves(broken):>15}  {' '.join(sorted(fixed)[:6])}")


# --- output --------------------------------------------------------------------------------------------


def _row(name: str, a: dict) -> str:
    return (f"{name:28} {a['n']:5} {a['ours']:8.3f} {a['plain']:8.3f} {a['plain_gold_in_dollars']:8.3f}"
            f"   {a['ours_wrong']:4} {a['plain_wrong']:4} {a['plain_gold_in_dollars_wrong']:4}")


def print_table(title: str, groups: dict[str, dict]) -> None:
    print(f"\n{title}\n{'':28} {'n':>5} {'ours':>8} {'plain':>8} {'plain$':>8}   wrong: ours plain plain$")
    for name, a in groups.items():
        print(_row(name, a))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N rows of each ProcessBench split")
    ap.add_argument("--gold-benchmarks", default="math500,aime24,aime25,amc23,gsm8k",
                    help="benchmarks whose gold answers are checked against themselves ('' to skip)")
    ap.add_argument("--hostile", action="store_true", help="only the hostile-answer corpus")
    ap.add_argument("--timeout-s", type=float, default=2.0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--ablations", action="store_true", help="also: agreement with each rule switched off")
    ap.add_argument("--verdicts-only", type=Path, help=argparse.SUPPRESS)  # one ablation run (internal)
    a = ap.parse_args()
    logging.disable(logging.WARNING)  # math-verify logs every parse timeout
    if a.verdicts_only:
        a.verdicts_only.write_text(json.dumps(our_verdicts(load_rows(a.limit)[0])))
        shutdown_workers()
        return
    a.out.parent.mkdir(parents=True, exist_ok=True)
    if a.hostile:
        report = hostile(a.timeout_s)
        for c in report["cases"]:
            print(f"{c['name']:48} {c['chars']:>9} chars {c['seconds']:7.3f} s  correct={c['correct']!s:5} "
                  f"expected={c['expected']!s:5} timed_out={c['timed_out']}")
        print(f"\nworst case {report['worst_case_s']:.3f} s per call ({report['worst_case']}) at timeout_s="
              f"{a.timeout_s}; wrong verdicts: {report['wrong_verdicts'] or 'none'}")
        out = a.out.with_name("hostile.json")
        out.write_text(json.dumps(report, indent=1))
        print(f"wrote {out}")
        shutdown_workers()
        return

    rows, unjoined = load_rows(a.limit)
    per_1000 = run_checkers(rows)
    by_split = {s: [r for r in rows if r["split"] == s] for s in SPLITS}
    table = {"all": agreement(rows)}
    for split, part in by_split.items():
        table[split] = agreement(part)
        for half in ("dev", "held-out"):
            table[f"{split} {half}"] = agreement([r for r in part if r["half"] == half])
    for half in ("dev", "held-out"):
        table[f"all {half}"] = agreement([r for r in rows if r["half"] == half])
    for r in rows:
        r["form"] = form_of(r["response"])
    report = {
        "rows": len(rows), "unjoined": unjoined,
        "seconds_per_1000_answers": {k: round(v, 2) for k, v in per_1000.items()},
        "agreement": table,
        "by_generator": {s: grouped(part, "generator") for s, part in by_split.items()},
        "by_form": {s: grouped(part, "form") for s, part in by_split.items()},
        "timeouts": sum(r["timed_out"] for r in rows),
        "mistakes": {key: {s: mistakes(part, key) for s, part in by_split.items()} for key in CHECKERS},
    }
    print(f"ProcessBench: {len(rows)} rows joined with a gold answer; not joined (left out): {unjoined}")
    print_table("Agreement with the human final_answer_correct labels", table)
    for split in SPLITS:
        print_table(f"{split}: by generator", report["by_generator"][split])
        print_table(f"{split}: by answer form", report["by_form"][split])
    print("\nseconds per 1,000 answers: " + ", ".join(f"{k} {v:.2f}" for k, v in per_1000.items())
          + f"; our checker's timeouts: {report['timeouts']}")
    for split in SPLITS:
        for kind, items in report["mistakes"]["ours"][split].items():
            print(f"\nours, {split}, {kind} ({len(items)}), first 5:")
            for m in items[:5]:
                print(f"  {m['id']:10} {m['generator']:26} gold={m['gold']!r} extracted={m['extracted']!r}")
    if a.ablations:
        report["ablations"] = ablations(rows, a.limit, a.out.parent)
        print_ablations(report["ablations"], table)
    if a.gold_benchmarks:
        verifier = Verifier(timeout_s=a.timeout_s)
        golds = check_golds(verifier, a.gold_benchmarks.split(","))
        report["golds"] = golds
        print("\nGold answers against themselves, their equivalent spellings (must verify) and a wrong number "
              "(must not):")
        for name, g in golds.items():
            print(f"  {name:10} {g['golds']:5} golds {g['checks']:6} checks  wrong verdicts: {g['wrong']}")
            for w in g["wrong_list"][:5]:
                print(f"      {w}")
    a.out.write_text(json.dumps(report, indent=1))
    print(f"\nwrote {a.out}")
    shutdown_workers()


if __name__ == "__main__":
    main()
