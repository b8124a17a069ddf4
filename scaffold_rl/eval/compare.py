"""A report comparing runs from the same base model at equal work: learning curves of the hard level against tokens
and against steps (one band per strategy over its seeds), zero-advantage share, and the final table.

Runs of one strategy with different seeds are named `<arm>-s<seed>`; they share a colour, and a band spans their
minimum and maximum with the mean as the line. Budgets are in work (tokens, steps), so the curves of two machines
agree; time is reported beside, as a ratio to plain GRPO measured in the same run.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from scaffold_rl.eval.report import plot_levels  # noqa: E402


def arm_of(run_name: str) -> str:
    """'scaf-s2' -> 'scaf': runs of one strategy with different seeds share a colour and a bar."""
    head, sep, tail = run_name.rpartition("-s")
    return head if sep and tail.isdigit() else run_name


def curve(run: dict, hard: str) -> tuple[list[int], list[int], list[float]]:
    """(steps, tokens, held-out greedy accuracy of `hard`) at the base, every periodic evaluation and the end."""
    tokens_at = {s["step"]: s.get("tokens/total", 0) for s in run["steps"]}
    steps, tokens, acc = [0], [0], [run["base"]["levels"][hard]["greedy"]]
    for e in run["evals"]:
        if hard in e["eval"]:
            steps.append(e["step"])
            tokens.append(tokens_at.get(e["step"], 0))
            acc.append(e["eval"][hard])
    final = run["final"]
    steps.append(final.get("steps", steps[-1]))
    tokens.append(sum(final.get("tokens", {}).values()) or tokens_at.get(steps[-1], tokens[-1]))
    acc.append(final["levels"][hard]["greedy"])
    return steps, tokens, acc


def _band(ax, xs_per_run: list[list[float]], ys_per_run: list[list[float]], colour, label) -> None:
    """Mean line and min-max band over runs, on a common grid (each run held at its last value past its end)."""
    top = max(max(xs) for xs in xs_per_run)
    grid = np.linspace(0, top, 60)
    ys = np.array([np.interp(grid, xs, ys) for xs, ys in zip(xs_per_run, ys_per_run)])
    ax.plot(grid, ys.mean(axis=0), color=colour, label=label, lw=1.6)
    if len(ys) > 1:
        ax.fill_between(grid, ys.min(axis=0), ys.max(axis=0), color=colour, alpha=0.18, lw=0)


def plot_comparison(runs: dict[str, dict], path: Path, hard_level: str | None) -> None:
    """Hard-level accuracy vs tokens and vs steps, zero-advantage share of the hard level vs tokens, and final
    accuracy per level (mean over seeds, error bar = std)."""
    fig, axes = plt.subplots(1, 4, figsize=(19, 3.9))
    base = next(iter(runs.values()))["base"]
    levels = list(base["levels"])
    hard = hard_level or levels[-1]
    arms = list(dict.fromkeys(arm_of(name) for name in runs))
    colour = {arm: plt.get_cmap("tab10")(i % 10) for i, arm in enumerate(arms)}
    for arm in arms:
        mine = [run for name, run in runs.items() if arm_of(name) == arm]
        curves = [curve(run, hard) for run in mine]
        _band(axes[0], [[t / 1e6 for t in c[1]] for c in curves], [c[2] for c in curves], colour[arm], arm)
        _band(axes[1], [c[0] for c in curves], [c[2] for c in curves], colour[arm], arm)
        key = f"zero_adv_frac/{hard}"
        series = [([s.get("tokens/total", 0) / 1e6 for s in run["steps"]],
                   [s.get(key, s.get("zero_adv_frac", 0.0)) for s in run["steps"]]) for run in mine if run["steps"]]
        if series:
            _band(axes[2], [x for x, _ in series], [y for _, y in series], colour[arm], arm)
    axes[0].set_xlabel("tokens of work (millions: generated + trained)")
    axes[1].set_xlabel("training steps")
    axes[2].set_xlabel("tokens of work (millions)")
    axes[0].set_title(f"{hard}: held-out greedy accuracy vs tokens")
    axes[1].set_title(f"{hard}: held-out greedy accuracy vs steps")
    axes[2].set_title(f"zero-advantage share of {hard} groups (after rescue)")
    for ax in axes[:3]:
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    ax = axes[3]
    width = 0.8 / (len(arms) + 1)
    ax.bar(list(range(len(levels))), [base["levels"][lv]["greedy"] for lv in levels], width, label="base",
           color="lightgrey")
    for i, arm in enumerate(arms, start=1):
        finals = [run["final"]["levels"] for name, run in runs.items() if arm_of(name) == arm]
        means = [statistics.mean(f[lv]["greedy"] for f in finals) for lv in levels]
        stds = [statistics.stdev(f[lv]["greedy"] for f in finals) if len(finals) > 1 else 0.0 for lv in levels]
        ax.bar([j + i * width for j in range(len(levels))], means, width, yerr=stds, capsize=2, label=arm,
               color=colour[arm])
    ax.set_xticks([j + width * len(arms) / 2 for j in range(len(levels))], levels)
    ax.set_ylim(0, 1.05)
    ax.set_title("greedy accuracy per level" + (" (mean ± std over seeds)" if len(runs) > len(arms) else ""))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mean(values) -> float:
    values = list(values)
    return statistics.mean(values) if values else float("nan")


def summary_rows(runs: dict[str, dict]) -> list[dict]:
    """One row per run: final accuracy per level, work done, crossing metrics, time."""
    rows = []
    for name, run in runs.items():
        steps, final = run["steps"], run["final"]
        last = steps[-1] if steps else {}
        hard_before, hard_after = run["base"].get("hard", {}), final.get("hard", {})
        k = max((int(key[5:]) for key in hard_after if key.startswith("pass@")), default=None)
        rows.append({
            "arm": name,
            "steps": len(steps),
            "tokens": sum(final.get("tokens", {}).values()) or last.get("tokens/total", 0),
            "train_s": final.get("train_seconds", 0.0),
            "zero_adv": _mean(s.get("zero_adv_frac", 0.0) for s in steps),
            "truncated_all_wrong": _mean(s.get("all_wrong_truncated_frac", 0.0) for s in steps),
            "prompt_usage": _mean(s.get("cliff/prompt_usage", 1 - s.get("zero_adv_frac", 0.0)) for s in steps),
            "graduations": last.get("cliff/graduations_total", 0.0),
            "hinted": _mean(s.get("hinted_sample_frac", 0.0) for s in steps) if steps else 0.0,
            "rescue_rate": _mean(s["scaf/rescue_rate"] for s in steps if s.get("scaf/triggered")),
            "pass_k": k,
            "hard_pass_before": hard_before.get(f"pass@{k}", float("nan")) if k else float("nan"),
            "hard_pass_after": hard_after.get(f"pass@{k}", float("nan")) if k else float("nan"),
            **{f"final/{lv}": res["greedy"] for lv, res in final["levels"].items()},
        })
    grpo = [r["train_s"] for r in rows if arm_of(r["arm"]) == "grpo" and r["train_s"]]
    for r in rows:  # time beside the result, as a ratio to plain GRPO measured in the same run
        r["time_vs_grpo"] = r["train_s"] / statistics.mean(grpo) if grpo else float("nan")
    return rows


def _cell(value: float, fmt: str = ".2f") -> str:
    return "—" if value != value else format(value, fmt)  # NaN: not measured / never triggered


def write_comparison(runs: dict[str, dict], out_dir: Path, title: str, hard_level: str | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_comparison(runs, out_dir / "comparison.png", hard_level)
    base = next(iter(runs.values()))["base"]
    plot_levels(base, None, out_dir / "base_model.png", title="The base model: accuracy per level (the cliff)")
    rows = summary_rows(runs)
    levels = list(base["levels"])
    k = next((r["pass_k"] for r in rows if r["pass_k"]), None)
    hard_col = [f"hard pass@{k} before → after"] if k else []
    head = levels + ["steps", "tokens (M)", "zero-adv share", "prompt usage", "graduations"] + hard_col + [
        "time vs grpo"]
    lines = [f"# {title}", "", "![comparison](comparison.png)", "",
             "| run | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|",
             "| base | " + " | ".join(f"{base['levels'][lv]['greedy']:.3f}" for lv in levels)
             + " |" * (len(head) - len(levels)) + " |"]
    for r in rows:
        cells = [f"{r[f'final/{lv}']:.3f}" for lv in levels] + [
            str(r["steps"]), f"{r['tokens'] / 1e6:.2f}", _cell(r["zero_adv"]), _cell(r["prompt_usage"]),
            f"{r['graduations']:.0f}"]
        if k:
            cells.append(f"{_cell(r['hard_pass_before'], '.3f')} → {_cell(r['hard_pass_after'], '.3f')}")
        cells.append(_cell(r["time_vs_grpo"]))
        lines.append(f"| {r['arm']} | " + " | ".join(cells) + " |")
    lines += ["", "Accuracy: greedy, held-out problems, no hints. Tokens: work done (generated + trained). "
              "Zero-advantage share: groups whose rewards are all equal (no gradient), after any rescue; prompt "
              "usage is its complement. Graduations: problems solved only with a hint at some step and later "
              "without one. Time: training seconds as a ratio to plain GRPO's in this run (machine-dependent; "
              "everything else is not).", "", "## The base model", "", "![base](base_model.png)", ""]
    if base.get("hints"):
        lines += ["| hint on the first hard level | greedy | sampled | pass@8 |", "|---|---|---|---|"]
        for key, res in base["hints"].items():
            lines.append(f"| {key} | {res['greedy']:.3f} | {res.get('sampled', float('nan')):.3f} | "
                         f"{res.get('pass@8', float('nan')):.3f} |")
        lines.append("")
    lines += ["Runs: " + ", ".join(f"[{name}]({Path(run['dir']).name}/report.md)" for name, run in runs.items()), ""]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
