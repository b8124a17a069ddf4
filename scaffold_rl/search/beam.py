"""Step-level beam search, lookahead search and DVTS as one loop over independent beam groups.

Each group keeps `keep` unfinished beams; every step each survivor is extended `expand` times (one step
each), the new partial trajectories are scored, and the best `keep` unfinished ones survive. Finished
trajectories leave the group; a group stops when it has `keep * expand` finished ones, no survivors, or
`max_steps` is reached.

beam search (HF search-and-learn)  one group, keep = N/M, expand = M
DVTS                               N/M groups, keep = 1, expand = M (diversity from independent subtrees)
lookahead k                        a candidate is ranked by the score of its greedy k-step continuation
"""
from __future__ import annotations

from scaffold_rl.search.types import SearchResult, Trajectory
from scaffold_rl.search.voting import best_scored


def beam_search(policy, problem, scorer, cfg) -> SearchResult:
    keep = max(1, cfg.n // cfg.m)
    return _grouped_beams(policy, problem, scorer, cfg, groups=1, keep=keep, expand=cfg.m, method="beam")


def dvts(policy, problem, scorer, cfg) -> SearchResult:
    groups = max(1, cfg.n // cfg.m)
    return _grouped_beams(policy, problem, scorer, cfg, groups=groups, keep=1, expand=cfg.m, method="dvts")


def rank_key(t: Trajectory) -> float:
    return t.score if t.score is not None else float("-inf")


def _grouped_beams(policy, problem, scorer, cfg, *, groups: int, keep: int, expand: int, method: str) -> SearchResult:
    survivors = [[Trajectory()] for _ in range(groups)]  # the root, expanded keep*expand times on step 1
    finished: list[list[Trajectory]] = [[] for _ in range(groups)]
    widths = [keep * expand] * groups
    stats = {"pruned": 0, "dead": 0}
    for _ in range(cfg.max_steps):
        parents = [(g, t) for g in range(groups) for t in survivors[g]
                   for _ in range(widths[g] // len(survivors[g]) if survivors[g] else 0)]
        if not parents:
            break
        children = policy.extend(problem, [t for _, t in parents])
        scorer_input = [c for c in children if not c.dead]
        _score(policy, problem, scorer, scorer_input, cfg.lookahead)
        pools: list[list[Trajectory]] = [[] for _ in range(groups)]
        for (g, _), c in zip(parents, children):
            if c.dead:
                stats["dead"] += 1
            elif c.finished:
                finished[g].append(c)
            else:
                pools[g].append(c)
        for g in range(groups):
            room = keep * expand - len(finished[g])
            ranked = sorted(pools[g], key=rank_key, reverse=True)  # stable: ties keep generation order
            survivors[g] = ranked[:min(keep, room)] if room > 0 else []
            stats["pruned"] += len(ranked) - len(survivors[g])
            widths[g] = max(0, min(room, keep * expand))
    done = [t for g in finished for t in g]
    chosen = best_scored(done)
    return SearchResult(method, chosen.answer if chosen else None, chosen, done, 0, stats=stats)


def _score(policy, problem, scorer, trajs: list[Trajectory], lookahead: int) -> None:
    """Score each trajectory, or (lookahead > 0) the end of its greedy `lookahead`-step continuation."""
    if lookahead <= 0:
        scorer.score(problem, trajs)
        return
    probes = list(trajs)
    for _ in range(lookahead):
        open_ = [i for i, t in enumerate(probes) if not t.finished and not t.dead]
        if not open_:
            break
        for i, t in zip(open_, policy.extend(problem, [probes[i] for i in open_], greedy=True)):
            if t.dead:  # a continuation cut off by the step or token limits: rank by the last live state
                probes[i] = Trajectory(probes[i].steps, finished=True)  # frozen: no further probing
            else:
                probes[i] = t
    scorer.score(problem, probes)
    for t, probe in zip(trajs, probes):
        t.score = probe.score
