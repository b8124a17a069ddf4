"""A report comparing runs from the same base model: accuracy over training time, zero-advantage share, result."""
from __future__ import annotations

import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from scaffold_rl.eval.report import plot_levels  # noqa: E402


def _smooth(values: list[float], k: int = 5) -> list[float]:
    out = []
    for i in range(len(values)):
        window = values[max(0, i - k + 1) : i + 1]
        out.append(sum(window) / len(window))
    return out


def arm_of(run_name: str) -> str:
    """'scaf-s2' -> 'scaf': runs of one strategy with different seeds share a colour and a bar."""
    head, sep, tail = run_name.rpartition("-s")
    return head if sep and tail.isdigit() else run_name


def plot_comparison(runs: dict[str, dict], path: Path, hard_level: str | None) -> None:
    """Accuracy over time and zero-advantage share (a line per run, a colour per strategy), and final accuracy
    per level (a bar per strategy: mean over seeds, error bar = std)."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    base = next(iter(runs.values()))["base"]
    levels = list(base["levels"])
    hard = hard_level or levels[-1]
    arms = list(dict.fromkeys(arm_of(name) for name in runs))
    colour = {arm: plt.get_cmap("tab10")(i % 10) for i, arm in enumerate(arms)}
    labelled = set()

    def label(arm):
        if arm in labelled:
            return None
        labelled.add(arm)
        return arm

    for name, run in runs.items():
        arm = arm_of(name)
        xs = [0.0] + [e["train_seconds"] / 60 for e in run["evals"]] + [run["final"].get("train_seconds", 0) / 60]
        ys = [run["base"]["levels"][hard]["greedy"]] + [e["eval"][hard] for e in run["evals"]] + \
             [run["final"]["levels"][hard]["greedy"]]
        axes[0].plot(xs, ys, marker="o", ms=3, color=colour[arm], label=label(arm), alpha=0.85)
    labelled.clear()
    for name, run in runs.items():
        arm = arm_of(name)
        steps = run["steps"]
        key = f"zero_adv_frac/{hard}" if any(f"zero_adv_frac/{hard}" in s for s in steps) else "zero_adv_frac"
        axes[1].plot([s["train_seconds"] / 60 for s in steps], _smooth([s.get(key, 0.0) for s in steps]),
                     color=colour[arm], label=label(arm), alpha=0.8, lw=1)
    axes[0].set_title(f"{hard}: held-out greedy accuracy, no hints")
    axes[1].set_title(f"share of zero-advantage {hard} groups (after rescue)")
    for ax in axes[:2]:
        ax.set_xlabel("training minutes")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8)
    ax = axes[2]
    width = 0.8 / (len(arms) + 1)
    ax.bar([j for j in range(len(levels))], [base["levels"][lv]["greedy"] for lv in levels], width, label="base",
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


def _cell(value: float) -> str:
    return "—" if value != value else f"{value:.2f}"  # NaN: the arm never triggered a rescue


def summary_rows(runs: dict[str, dict]) -> list[dict]:
    rows = []
    for name, run in runs.items():
        steps = run["steps"]
        times = [s["step_time"] for s in steps if "step_time" in s]
        rows.append({
            "arm": name,
            "steps": len(steps),
            "train_s": run["final"].get("train_seconds", 0.0),
            "s_per_step": statistics.median(times) if times else float("nan"),
            "zero_adv": statistics.mean(s.get("zero_adv_frac", 0.0) for s in steps) if steps else float("nan"),
            "hinted": statistics.mean(s.get("hinted_sample_frac", 0.0) for s in steps) if steps else 0.0,
            "rescue_rate": statistics.mean(s["scaf/rescue_rate"] for s in steps if s.get("scaf/triggered"))
            if any(s.get("scaf/triggered") for s in steps) else float("nan"),
            **{f"final/{lv}": res["greedy"] for lv, res in run["final"]["levels"].items()},
        })
    return rows


def write_comparison(runs: dict[str, dict], out_dir: Path, title: str, hard_level: str | None = None) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    plot_comparison(runs, out_dir / "comparison.png", hard_level)
    base = next(iter(runs.values()))["base"]
    plot_levels(base, None, out_dir / "base_model.png", title="The base model: accuracy per level (the cliff)")
    rows = summary_rows(runs)
    levels = list(base["levels"])
    lines = [f"# {title}", "", "![comparison](comparison.png)", "",
             "| arm | " + " | ".join(levels) + " | steps | train s | s/step | zero-adv share | hinted samples | rescue rate |",
             "|---" * (len(levels) + 7) + "|",
             "| base | " + " | ".join(f"{base['levels'][lv]['greedy']:.3f}" for lv in levels) + " | | | | | | |"]
    for r in rows:
        lines.append(f"| {r['arm']} | " + " | ".join(f"{r[f'final/{lv}']:.3f}" for lv in levels)
                     + f" | {r['steps']} | {r['train_s']:.0f} | {r['s_per_step']:.2f} | {r['zero_adv']:.2f} | "
                       f"{r['hinted']:.3f} | {_cell(r['rescue_rate'])} |")
    lines += ["", "Accuracy: greedy, held-out problems, no hints. Zero-advantage share: groups whose rewards are all "
              "equal (no gradient), after any rescue.", "", "## The base model", "", "![base](base_model.png)", ""]
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
