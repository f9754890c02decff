"""AdamW whose word-embedding updates cost what a batch touches, with the results of dense AdamW.

Dense AdamW moves every row of the embedding matrix at every step: a row no batch uses still decays
(decoupled weight decay) and still moves through its stale moments (m and v shrink by beta1 and beta2
each step, and m / sqrt(v) keeps being applied). Here the embedding gets a sparse gradient
(nn.Embedding(sparse=True)); the steps a row missed are applied in closed form from the recorded
per-step learning rates when the row is next used, and for every row in catch_up(), which must run
before the weights are evaluated or saved. Only a 250k-row vocabulary (mE5, XLM-R) gains much.
"""

from __future__ import annotations

import math
import weakref

import torch

from ..errors import XstiltsError

CHUNK_ELEMENTS = 1 << 22  # bound on the (rows x missed steps x dim) temporaries of one catch-up


def _state_tensor(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


class RowSparseAdamW(torch.optim.AdamW):
    """torch AdamW; the weights of `embeddings` (switched to sparse gradients) update only the rows in
    their gradient; the steps a row missed are caught up just before a forward pass reads it. A dense
    gradient on such a weight (e.g. from a tied MLM decoder) counts as touching every row."""

    def __init__(self, params, embeddings: list[torch.nn.Embedding], **kwargs):
        super().__init__(params, **kwargs)
        if any(g["amsgrad"] or g["maximize"] for g in self.param_groups):
            raise ValueError("RowSparseAdamW supports neither amsgrad nor maximize")
        self.row_sparse = {id(e.weight) for e in embeddings}
        me = weakref.ref(self)  # the hook must not keep the optimizer state alive after training

        def catch_up_used_rows(module, args):
            optimizer = me()
            if optimizer is not None:
                optimizer.catch_up_rows(module.weight, args[0].flatten().unique())

        for embedding in embeddings:
            embedding.sparse = True
            embedding.register_forward_pre_hook(catch_up_used_rows)

    def load_state_dict(self, state_dict) -> None:
        super().load_state_dict(state_dict)
        for p, _ in self._sparse_params():  # torch casts state tensors to the parameter's dtype, "step" to a tensor
            state = self.state[p]
            if state:
                state["step"], state["last"], state["seen"] = int(state["step"]), state["last"].long(), state["seen"].bool()

    def _sparse_params(self):
        return [(p, g) for g in self.param_groups for p in g["params"] if id(p) in self.row_sparse]

    @torch.no_grad()
    def step(self, closure=None):
        held = {}
        for p, group in self._sparse_params():
            if p.grad is not None:
                self._step_rows(p, group)
                held[p], p.grad = p.grad, None  # the dense AdamW step below skips this parameter
        try:
            return super().step(closure)
        finally:
            for p, grad in held.items():
                p.grad = grad

    @torch.no_grad()
    def catch_up_rows(self, p, rows: torch.Tensor) -> None:
        """Bring `rows` of `p` up to the last step (before a forward pass reads them)."""
        for q, group in self._sparse_params():
            if q is p and self.state[p]:
                self._catch_up_rows(p, group, rows, self.state[p]["step"])

    @torch.no_grad()
    def catch_up(self) -> None:
        """Bring every row up to the last step (before the weights are evaluated or saved)."""
        for p, group in self._sparse_params():
            state = self.state[p]
            if state:
                self._catch_up_rows(p, group, torch.arange(p.shape[0], device=p.device), state["step"])

    def _step_rows(self, p, group) -> None:
        state = self.state[p]
        if not state:
            state.update(step=0, lrs=[], log_keep=[0.0], exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p),
                         last=torch.zeros(p.shape[0], dtype=torch.long, device=p.device),
                         seen=torch.zeros(p.shape[0], dtype=torch.bool, device=p.device))
        grad = p.grad.coalesce() if p.grad.is_sparse else p.grad
        rows = grad.indices()[0] if grad.is_sparse else torch.arange(p.shape[0], device=p.device)
        values = grad.values() if grad.is_sparse else grad
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        t = state["step"] + 1
        state["lrs"].append(lr)
        state["log_keep"].append(state["log_keep"][-1] + math.log1p(-lr * wd))
        self._catch_up_rows(p, group, rows, t - 1)
        # step t on the touched rows, in torch AdamW's own order of operations
        param, m, v = p[rows], state["exp_avg"][rows], state["exp_avg_sq"][rows]
        param.mul_(1 - lr * wd)
        m.lerp_(values.to(m.dtype), 1 - beta1)
        v.mul_(beta2).addcmul_(values, values, value=1 - beta2)
        denom = (v.sqrt() / math.sqrt(1 - beta2 ** t)).add_(eps)
        param.addcdiv_(m, denom, value=-lr / (1 - beta1 ** t))
        p.index_copy_(0, rows, param)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)
        state["last"][rows] = t
        state["seen"][rows] = True
        state["step"] = t

    def _catch_up_rows(self, p, group, rows: torch.Tensor, through: int) -> None:
        """Apply steps last[row]+1 .. `through` to `rows` as dense AdamW would with a zero gradient."""
        state = self.state[p]
        last = state["last"][rows]
        stale = last < through
        rows, last = rows[stale], last[stale]
        if not len(rows):
            return
        state["last"][rows] = through
        log_keep = _state_tensor(state["log_keep"]).to(p.device)
        keep = torch.exp(log_keep[through] - log_keep[last]).to(p.dtype)  # product of (1 - lr_k * wd)
        seen = state["seen"][rows]
        # never-used rows have zero moments: decay only
        unseen_rows = rows[~seen]
        p[unseen_rows] = p[unseen_rows] * keep[~seen, None]
        rows, last, keep = rows[seen], last[seen], keep[seen]
        if len(rows):
            beta1, beta2 = group["betas"]
            m, v = state["exp_avg"][rows], state["exp_avg_sq"][rows]
            shift = self._moment_shift(m, v, last, through, state, group, log_keep)
            p[rows] = p[rows] * keep[:, None] - shift
            gap = (through - last).to(torch.float64)[:, None]
            state["exp_avg"][rows] = m * (beta1 ** gap).to(m.dtype)
            state["exp_avg_sq"][rows] = v * (beta2 ** gap).to(v.dtype)

    @staticmethod
    def _moment_shift(m, v, last, through, state, group, log_keep) -> torch.Tensor:
        """sum over missed steps k of (decay after k) * lr_k/bc1_k * m_k / (sqrt(v_k)/sqrt(bc2_k) + eps),
        with m_k = beta1^(k-last) m and v_k = beta2^(k-last) v; eps keeps it from factoring, so the
        missed steps are summed, in chunks, only for the rows that missed them."""
        beta1, beta2 = group["betas"]
        order = torch.argsort(last)
        last_sorted, sqrt_v = last[order], v[order].sqrt()
        lrs = _state_tensor(state["lrs"]).to(m.device)
        total = torch.zeros_like(m)
        first = int(last_sorted[0]) + 1
        chunk = max(1, CHUNK_ELEMENTS // (len(last) * m.shape[1]))
        for start in range(first, through + 1, chunk):
            k = torch.arange(start, min(start + chunk, through + 1), device=m.device)
            n = int(torch.searchsorted(last_sorted, k[-1]))  # rows last updated before this chunk's end
            gap = (k[None, :] - last_sorted[:n, None]).to(torch.float64)
            missed = gap >= 1
            kf = k.to(torch.float64)
            scale = lrs[k - 1] / (1 - beta1 ** kf) * torch.exp(log_keep[through] - log_keep[k])
            numer = torch.where(missed, scale * beta1 ** gap.clamp(min=0), 0.0).to(m.dtype)
            root = (beta2 ** (gap.clamp(min=0) / 2) / torch.sqrt(1 - beta2 ** kf)).to(m.dtype)
            total[:n] += (numer[:, :, None] / (root[:, :, None] * sqrt_v[:n, None, :] + group["eps"])).sum(1)
        shift = torch.empty_like(total)
        shift[order] = total
        return shift * m


def catch_up(optimizer) -> None:
    """RowSparseAdamW.catch_up through Accelerate's optimizer wrapper."""
    getattr(optimizer, "optimizer", optimizer).catch_up()


def clip_grad_norm(accelerator, parameters, max_norm: float) -> torch.Tensor:
    """accelerator.clip_grad_norm_, also over sparse gradients (torch's clip_grad_norm_ rejects them);
    the same total norm and clip coefficient as torch's."""
    params = [p for p in parameters if p.grad is not None]
    if not any(p.grad.is_sparse for p in params):
        return accelerator.clip_grad_norm_(params, max_norm)
    accelerator.unscale_gradients()
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    norms = [torch.linalg.vector_norm(p.grad.values() if p.grad.is_sparse else p.grad) for p in params]
    total = torch.linalg.vector_norm(torch.stack(norms))
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for p in params:
        p.grad.mul_(coef)
    return total


def make_adamw(model, groups: list[dict], settings, learning_rate: float, fused: bool) -> torch.optim.Optimizer:
    """The phase's AdamW over `groups`, with the word embeddings frozen, updated row-sparse or dense
    (settings.freeze_embeddings, settings.embedding_optimizer)."""
    embeddings = model.encoder.get_input_embeddings()
    if settings.freeze_embeddings:
        embeddings.weight.requires_grad_(False)
    sparse = settings.embedding_optimizer == "sparse" and not settings.freeze_embeddings
    if sparse and torch.distributed.is_available() and torch.distributed.is_initialized():
        raise XstiltsError("embedding_optimizer: sparse runs in a single process only; use dense with several")
    return RowSparseAdamW(groups, embeddings=[embeddings] if sparse else [], lr=learning_rate, fused=True if fused else None)
