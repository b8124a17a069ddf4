"""report.md + PNG plots for a run folder: the cliff before, the zero-advantage share during, the result after."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _load(run_dir: Path):
    metrics = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()] \
        if (run_dir / "metrics.jsonl").exists() else []
    base = json.loads((run_dir / "eval_base.json").read_text()) if (run_dir / "eval_base.json").exists() else None
    final = json.loads((run_dir / "eval_final.json").read_text()) if (run_dir / "eval_final.json").exists() else None
    return metrics, base, final


def plot_levels(base: dict | None, final: dict | None, path: Path, title: str = "Greedy accuracy per level") -> None:
    """Grouped bars: base unhinted, base with each hint depth on the first hard level, and after training."""
    levels = list((base or final)["levels"])
    series = []
    if base:
        series.append(("base", [base["levels"][lv]["greedy"] for lv in levels]))
    if final:
        series.append(("after RL", [final["levels"][lv]["greedy"] for lv in levels]))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series):
        xs = [j + i * width for j in range(len(levels))]
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7)
    if base and base.get("hints"):
        for key, res in base["hints"].items():
            lv, depth = key.split("/")
            if lv in levels and depth != "k=0":
                j = levels.index(lv)
                ax.scatter([j], [res["greedy"]], marker="_", s=300, color="black", zorder=3)
                ax.annotate(f"base, hint {depth}", (j, res["greedy"]), fontsize=7, xytext=(6, 2),
                            textcoords="offset points")
    ax.set_xticks([j + width * (len(series) - 1) / 2 for j in range(len(levels))], levels)
    ax.set_ylim(0, 1.1)
    ax.set_ylabel("accuracy (held-out, unhinted)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training(metrics: list[dict], path: Path) -> None:
    """Zero-advantage share and pass rate per level over the steps, with periodic eval if any."""
    steps = [m for m in metrics if "reward" in m]
    evals = [m for m in metrics if "eval" in m]
    fig, axes = plt.subplots(1, 2 + bool(evals), figsize=(5 * (2 + bool(evals)), 3.4))
    xs = [m["step"] for m in steps]
    ax = axes[0]
    keys = sorted({k for m in steps for k in m if k.startswith("zero_adv_frac/")})
    ax.plot(xs, [m.get("zero_adv_frac", 0) for m in steps], label="all groups", color="black", lw=1.5)
    for k in keys:
        ax.plot(xs, [m.get(k, float("nan")) for m in steps], label=k.split("/")[-1], lw=1, alpha=0.8)
    if any("all_wrong_frac" in m and "hinted_sample_frac" in m and m["hinted_sample_frac"] for m in steps):
        ax.plot(xs, [m.get("all_wrong_frac", 0) for m in steps], "--", label="all-wrong before rescue", lw=1)
    ax.set_title("Share of zero-advantage groups per step")
    ax.set_xlabel("step")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    ax = axes[1]
    for k in sorted({k for m in steps for k in m if k.startswith("pass_rate/")}):
        ax.plot(xs, [m.get(k, float("nan")) for m in steps], label=k.split("/")[-1], lw=1)
    if not ax.get_lines():
        ax.plot(xs, [m.get("pass_rate", float("nan")) for m in steps], label="all problems", lw=1)
    ax.set_title("Training pass rate per level (sampled)")
    ax.set_xlabel("step")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    if evals:
        ax = axes[2]
        for lv in evals[0]["eval"]:
            ax.plot([e["step"] for e in evals], [e["eval"][lv] for e in evals], marker="o", label=lv)
        ax.set_title("Held-out greedy accuracy")
        ax.set_xlabel("step")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def levels_table(base: dict | None, final: dict | None) -> list[str]:
    src = base or final
    cols = ["greedy"] + [k for k in ("sampled", "pass@8", "maj@8", "lucky") if k in next(iter(src["levels"].values()))]
    lines = ["| level | " + " | ".join(f"base {c}" for c in cols if base) + (" | " if base and final else "")
             + " | ".join(f"after {c}" for c in cols if final) + " |"]
    lines.append("|---" * (1 + len(cols) * (bool(base) + bool(final))) + "|")
    for lv in src["levels"]:
        row = [lv]
        for res in (base, final):
            if res:
                row += [f"{res['levels'][lv].get(c, float('nan')):.3f}" for c in cols]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def write_report(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    metrics, base, final = _load(run_dir)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    lines = [f"# Run report: {run_dir.name}", ""]
    skipped = next((r["skipped"] for r in (base, final) if r and r.get("skipped")), None)
    if skipped:  # label-free data without gold answers
        lines += ["## Accuracy per level", "", f"Evaluation skipped: {skipped}.", ""]
    elif base or final:
        plot_levels(base, final, plots / "accuracy_per_level.png")
        lines += ["## Accuracy per level (held-out problems, no hints)", "",
                  "![accuracy per level](plots/accuracy_per_level.png)", ""]
        split = (base or final).get("held_out")
        if split:
            lines += [f"Held out: {split.get('held_out')}; trained on {split.get('train', 'the rest')}"
                      + (f" ({split['overlap_removed_from_train']} problems also in the held-out set were removed "
                         "from training)" if split.get("overlap_removed_from_train") else "") + ".", ""]
        lines += levels_table(base, final) + [""]
    if base and base.get("hints"):
        lines += ["## Latent ability: the base model with solution-prefix hints", "",
                  "| hint | greedy | sampled | pass@8 |", "|---|---|---|---|"]
        for key, res in base["hints"].items():
            lines.append(f"| {key} | {res['greedy']:.3f} | {res.get('sampled', float('nan')):.3f} | "
                         f"{res.get('pass@8', float('nan')):.3f} |")
        lines.append("")
    steps = [m for m in metrics if "reward" in m]
    if steps:
        plot_training(metrics, plots / "training.png")
        zero = sum(m.get("zero_adv_frac", 0) for m in steps) / len(steps)
        step_time = [m["step_time"] for m in steps if "step_time" in m]
        lines += ["## During training", "", "![training](plots/training.png)", "",
                  f"- steps: {len(steps)}, training time {steps[-1]['train_seconds']:.0f} s"
                  + (f", median step {sorted(step_time)[len(step_time) // 2]:.2f} s" if step_time else ""),
                  f"- mean share of zero-advantage groups: {zero:.2f} (such a group gives no gradient)",
                  f"- tokens generated: {sum(m.get('tokens_generated', 0) for m in steps):.0f}",
                  f"- verifier timeouts: {sum(m.get('verifier_timeouts', 0) for m in steps):.0f}", ""]
        per_level = sorted({k for m in steps for k in m if k.startswith("zero_adv_frac/")})
        if per_level:
            lines.append("- zero-advantage share per level: " + ", ".join(
                f"{k.split('/')[-1]} {sum(m.get(k, 0) for m in steps) / len(steps):.2f}" for k in per_level))
            lines.append("")
    path = run_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
