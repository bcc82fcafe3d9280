"""The batched bootstrap on torch (GPU when present): same maths as :mod:`bootstrap`.

The refit is the very same :func:`ranking.bootstrap.refit`, run with torch tensors
(float64) through :class:`TorchOps`; only sampling differs, because torch has no
multinomial-with-counts: an exact Mult(N, p) draw is built by binary splitting — the
N votes at a tree node go left with Binomial(n, p_left / p_node) — which takes
⌈log₂ cells⌉ batched ``torch.binomial`` calls for all rounds at once. Random streams
differ from numpy's, so the two devices give statistically equal, not identical,
replicas for one seed (each is reproducible on its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .bootstrap import Replicas, chord_matrix, refit
from .bt import Fit
from .design import Pairs
from .options import TOL
from .progress import Progress

CELL_BUDGET = 1 << 25  # replicas × cells per chunk (about 256 MB per float64 array)


class TorchOps:
    """The array operations :func:`refit` needs, on torch tensors on one device."""

    def __init__(self, device: str = "cpu") -> None:
        import torch

        self.xp = torch
        self.device = torch.device(device)

    def asarray(self, a: Any) -> Any:
        return self.xp.as_tensor(a, dtype=self.xp.float64, device=self.device)

    def numpy(self, a: Any) -> np.ndarray:
        return a.detach().cpu().numpy() if isinstance(a, self.xp.Tensor) else np.asarray(a)

    def amax_abs(self, a: Any) -> Any:
        return a.abs().amax(-1)

    def nonzero(self, mask: Any) -> Any:
        return mask.nonzero().reshape(-1)

    def layout(self, a: Any) -> Any:
        return a.contiguous()

    def arange(self, n: int) -> Any:
        return self.xp.arange(n, device=self.device)

    def cat(self, parts: list[Any], axis: int) -> Any:
        return self.xp.cat(parts, dim=axis)

    def products(self, pairs: Pairs) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
        Dt = self.asarray(pairs.design())
        return (lambda x: x @ Dt.T), (lambda g: g @ Dt)


def multinomial(torch: Any, total: float, p: Any, size: int, gen: Any) -> Any:
    """``size`` exact draws of Mult(total, p) (p a 1-d tensor summing to 1)."""
    cells = p.numel()
    levels = max(1, int(np.ceil(np.log2(cells))))
    leaf = torch.zeros(2**levels, dtype=p.dtype, device=p.device)
    leaf[:cells] = p
    sums = [leaf]
    while sums[-1].numel() > 1:
        sums.append(sums[-1].view(-1, 2).sum(1))
    sums.reverse()
    counts = torch.full((size, 1), float(total), dtype=p.dtype, device=p.device)
    for level in range(1, levels + 1):
        node, left = sums[level - 1], sums[level][0::2]
        q = torch.where(node > 0, left / node.clamp(min=1e-300), torch.zeros_like(node)).clamp(0, 1)
        go_left = torch.binomial(counts, q.expand(size, -1).contiguous(), generator=gen)
        counts = torch.stack([go_left, counts - go_left], dim=-1).reshape(size, -1)
    return counts[:, :cells]


def bootstrap_torch(
    pairs: Pairs,
    f: Fit,
    *,
    rounds: int,
    seed: int,
    kind: str = "cells",
    device: str = "cuda",
    progress: bool = False,
    tol: float = TOL,
) -> Replicas:
    """θ for ``rounds`` replicas with sampling and refits on ``device``."""
    ops = TorchOps(device)
    torch = ops.xp
    r = len(pairs.i)
    raw = pairs.counts.ravel()
    scale = ops.asarray(pairs.scale.ravel()) if pairs.scale is not None else None
    chunk = max(1, min(rounds, CELL_BUDGET // max(raw.size, 1)))
    sizes = [min(chunk, rounds - s) for s in range(0, rounds, chunk)]
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(len(sizes))]
    if kind == "cells":
        nz = np.flatnonzero(raw)
        p = ops.asarray(raw[nz] / raw[nz].sum())
        nz_t = torch.as_tensor(nz, device=ops.device)
        total = float(round(raw[nz].sum()))
    else:
        if pairs.voters is None:
            raise ValueError("the voter-cluster bootstrap needs per-voter counts")
        vt = pairs.voters.T.tocsr()
        voters_t = torch.sparse_csr_tensor(
            torch.as_tensor(vt.indptr, dtype=torch.int64),
            torch.as_tensor(vt.indices, dtype=torch.int64),
            torch.as_tensor(vt.data, dtype=torch.float64),
            size=vt.shape,
        ).to(ops.device)
        n_voters = vt.shape[1]
    hinv = chord_matrix(pairs, f)
    out, left, worst = [], 0, 0.0
    with Progress(rounds, f"bootstrap ({kind}, {device})", progress) as bar:
        for size, s in zip(sizes, seeds, strict=True):
            gen = torch.Generator(device=ops.device).manual_seed(s)
            if kind == "cells":
                cells = torch.zeros((size, raw.size), dtype=torch.float64, device=ops.device)
                cells[:, nz_t] = multinomial(torch, total, p, size, gen)
            else:
                pick = torch.randint(0, n_voters, (size, n_voters), generator=gen, device=ops.device)
                w = torch.zeros((size, n_voters), dtype=torch.float64, device=ops.device)
                w.scatter_add_(1, pick, torch.ones_like(w))
                cells = (voters_t @ w.T).T  # weighted already: each voter's own weights
            if scale is not None and kind == "cells":
                cells = cells * scale
            X, nl, nw = refit(ops, pairs, f, cells.reshape(size, 3, r), tol=tol, hinv=hinv)
            out.append(X)
            left, worst = left + nl, max(worst, nw)
            bar.update(size)
    X = np.concatenate(out)
    theta = X[:, : pairs.n_models]
    return Replicas(theta=theta - theta.mean(axis=1, keepdims=True), unconverged=left, max_grad=worst)
