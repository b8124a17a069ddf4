"""MCTS over steps with UCT selection (rStar-Math style, papers.md §5.1).

One iteration: from the root, follow the child with the largest UCT(s) = Q(s) + c*sqrt(ln N(parent) / N(s))
(unvisited children first) down to a leaf; expand the leaf with K sampled steps; give each new node a value
in [-1, 1]; back it up: every node on the path gets N += 1 and q += value, Q = q / N (additive backup,
q(s)^k = q(s)^(k-1) + v^k). A finished or dead leaf is not expanded: its fixed value is backed up again.

Node values: with `mcts_eval=scorer`, the scorer's aggregated score p of the node's steps maps to 2p - 1 (a
PRM; the outcome verifier gives +1 / -1 at finished nodes and -1 at unfinished ones); with
`mcts_eval=rollout`, one sampled completion to the end is scored and gives +1 (>= 0.5) or -1 (rStar's
terminal-guided annotation). Dead nodes (too long, failed code) are worth -1.
The answer is that of the finished node with the highest Q (most visits on ties; if none finished, the
most-visited path is completed greedily); with rollouts, each finished
rollout is a candidate too, valued by the Q of the node it was sampled from (its extra steps get that node's
own value as their step value).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from scaffold_rl.search.types import SearchResult, Trajectory


@dataclass
class Node:
    traj: Trajectory
    parent: "Node | None" = None
    children: list["Node"] = field(default_factory=list)
    visits: int = 0
    q: float = 0.0  # sum of backed-up values
    value: float = 0.0  # the node's own evaluation
    rollout: Trajectory | None = None  # mcts_eval=rollout: the sampled completion that valued this node

    @property
    def Q(self) -> float:
        return self.q / self.visits if self.visits else 0.0

    @property
    def leaf_final(self) -> bool:
        return self.traj.finished or self.traj.dead


def uct(q_sum: float, visits: int, parent_visits: int, c: float) -> float:
    """Q + c*sqrt(ln N_parent / N); an unvisited node is infinitely attractive."""
    if visits == 0:
        return math.inf
    return q_sum / visits + c * math.sqrt(math.log(max(parent_visits, 1)) / visits)


def select(root: Node, c: float) -> Node:
    node = root
    while node.children and not node.leaf_final:
        node = max(node.children, key=lambda ch: uct(ch.q, ch.visits, node.visits, c))  # first on ties
    return node


def backup(node: Node | None, value: float) -> None:
    while node is not None:
        node.visits += 1
        node.q += value
        node = node.parent


def path_values(node: Node) -> list[float]:
    """Q of each node from the root's child down to `node`: per-step value labels (rStar-Math q-values)."""
    values = []
    while node.parent is not None:
        values.append(node.Q)
        node = node.parent
    return values[::-1]


def mcts(policy, problem, scorer, cfg) -> SearchResult:
    root = Node(Trajectory())
    finished: list[Node] = []
    stats = {"iterations": 0, "nodes": 1, "dead": 0}
    for _ in range(cfg.n):
        stats["iterations"] += 1
        leaf = select(root, cfg.c_uct)
        if leaf.leaf_final:
            backup(leaf, leaf.value)
            continue
        children = [Node(t, parent=leaf) for t in policy.extend(problem, [leaf.traj] * cfg.k)]
        leaf.children = children
        stats["nodes"] += len(children)
        evaluate(policy, problem, scorer, cfg, children)
        for child in children:
            stats["dead"] += child.traj.dead
            if child.traj.finished and not child.traj.dead:
                finished.append(child)
            backup(child, child.value)
    candidates = []  # (Q, visits, trajectory): finished nodes, then finished rollouts valued by their node
    for node in finished:
        node.traj.value = node.Q
        node.traj.step_values = path_values(node)
        candidates.append((node.Q, node.visits, node.traj))
    for node in walk(root):
        end = node.rollout
        if end is not None and end.finished and not end.dead:
            end.value = node.Q
            end.step_values = path_values(node) + [node.value] * (len(end.steps) - len(node.traj.steps))
            candidates.append((node.Q, node.visits, end))
    best = None
    for q, visits, traj in candidates:  # first on ties
        if traj.answer is not None and (best is None or (q, visits) > best[:2]):
            best = (q, visits, traj)
    if best is None and cfg.n > 0:
        # nothing finished within the iterations: finish the most-visited path greedily (its tokens count)
        node = root
        while node.children:
            node = max(node.children, key=lambda ch: (ch.visits, ch.Q))
        if not node.traj.dead:
            end = node.traj if node.traj.finished else policy.complete(problem, [node.traj], greedy=True)[0]
            end.value = node.Q
            candidates.append((node.Q, node.visits, end))
            stats["greedy_finish"] = 1
            best = (node.Q, node.visits, end) if end.answer is not None else None
    chosen = best[2] if best else None
    stats["root_visits"] = root.visits
    return SearchResult("mcts", chosen.answer if chosen else None, chosen, [c[2] for c in candidates], 0,
                        stats=stats)


def walk(root: Node):
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def evaluate(policy, problem, scorer, cfg, nodes: list[Node]) -> None:
    live = [n for n in nodes if not n.traj.dead]
    for n in nodes:
        if n.traj.dead:
            n.value = -1.0
    if not live:
        return
    if cfg.mcts_eval == "scorer":
        scorer.score(problem, [n.traj for n in live])
        for n in live:
            n.value = 2.0 * (n.traj.score or 0.0) - 1.0
        return
    # rollout: finished nodes are judged as they are; open ones through one sampled completion
    open_ = [n for n in live if not n.traj.finished]
    ends = policy.complete(problem, [n.traj for n in open_]) if open_ else []
    judged = [n.traj for n in live if n.traj.finished] + ends
    scorer.score(problem, judged)
    score_of = {id(n.traj): n.traj.score for n in live if n.traj.finished}
    for n, end in zip(open_, ends):
        score_of[id(n.traj)] = end.score
        n.rollout = end
    for n in live:
        n.value = 1.0 if (score_of[id(n.traj)] or 0.0) >= 0.5 else -1.0
