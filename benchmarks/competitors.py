"""The trainers that fa_lessons is measured against, written plainly.

Each ``make_*`` function returns ``epoch(order)``: one pass over the data in
the given order, batch by batch, updating its own copy of the parameters.
All of them train the same network (tanh hidden layers, softmax output,
cross-entropy, plain SGD) with the same learning rule:

* ``make_gemm_floor``: only the matrix products of a training step (forward,
  teaching signals, weight gradients) with NumPy into preallocated buffers:
  the time no implementation that calls BLAS once per product can beat.
* ``make_gemm_floor_numba``: the same products from a compiled loop, through
  the BLAS that Numba calls (SciPy's), to show what that library costs.
* ``make_numpy``: a vectorised NumPy trainer as a reader would write it.
* ``make_torch_manual``: the same equations with PyTorch tensors (no
  autograd; the update folded into ``addmm_``), for bp, fa and dfa.
* ``make_torch_autograd``: bp with autograd and ``torch.optim.SGD``.
"""

import numpy as np


def step_flops(sizes, rule, m):
    """Floating-point operations of the matrix products of one step of ``m`` rows."""
    L = len(sizes) - 1
    fwd = sum(2 * m * sizes[l] * sizes[l - 1] for l in range(1, L + 1))
    grads = fwd  # dW_l = delta_l^T h_{l-1}: same size as the forward product
    if rule == "dfa":
        signals = sum(2 * m * sizes[-1] * sizes[l] for l in range(1, L))
    else:
        signals = sum(2 * m * sizes[l] * sizes[l - 1] for l in range(2, L + 1))
    return fwd + grads + signals


def epoch_flops(sizes, rule, n, batch):
    full, tail = divmod(n, batch)
    return full * step_flops(sizes, rule, batch) + (step_flops(sizes, rule, tail) if tail else 0)


def init_params(sizes, dtype, seed):
    """Weights and biases U[-1/sqrt(n_in), 1/sqrt(n_in)], feedback matrices for fa and dfa."""
    rng = np.random.default_rng(seed)
    Ws, bs, Bs, Ds = [], [], [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        r = 1 / np.sqrt(n_in)
        Ws.append(rng.uniform(-r, r, (n_out, n_in)).astype(dtype))
        bs.append(rng.uniform(-r, r, n_out).astype(dtype))
        Bs.append(rng.uniform(-r, r, (n_out, n_in)).astype(dtype))
    for n in sizes[1:-1]:
        Ds.append(rng.uniform(-1 / np.sqrt(n), 1 / np.sqrt(n), (sizes[-1], n)).astype(dtype))
    return Ws, bs, Bs, Ds


# ------------------------------------------------------------------ GEMM floor
def make_gemm_floor(X, sizes, rule, batch, dtype, seed=0):
    Ws, _, Bs, Ds = init_params(sizes, dtype, seed)
    L = len(sizes) - 1
    H = [np.ascontiguousarray(X[:batch])] + [np.zeros((batch, n), dtype) for n in sizes[1:]]
    D = [None] + [np.full((batch, n), 1e-3, dtype) for n in sizes[1:]]
    G = [np.zeros_like(W) for W in Ws]
    n = X.shape[0]

    def epoch(order):
        for start in range(0, n, batch):
            m = min(batch, n - start)
            for l in range(1, L + 1):
                np.matmul(H[l - 1][:m], Ws[l - 1].T, out=H[l][:m])
            for l in range(L, 0, -1):
                if l > 1:
                    if rule == "dfa":
                        np.matmul(D[L][:m], Ds[l - 2], out=D[l - 1][:m])
                    else:
                        F = Ws[l - 1] if rule == "bp" else Bs[l - 1]
                        np.matmul(D[l][:m], F, out=D[l - 1][:m])
                np.matmul(D[l][:m].T, H[l - 1][:m], out=G[l - 1])

    return epoch


def make_gemm_floor_numba(X, sizes, rule, batch, dtype, seed=0):
    from numba import njit

    Ws, _, Bs, Ds = init_params(sizes, dtype, seed)
    L = len(sizes) - 1
    code = {"bp": 0, "fa": 1, "dfa": 2}[rule]
    H = [np.ascontiguousarray(X[:batch])] + [np.zeros((batch, k), dtype) for k in sizes[1:]]
    D = [np.zeros((1, 1), dtype)] + [np.full((batch, k), 1e-3, dtype) for k in sizes[1:]]
    G = [np.zeros_like(W) for W in Ws]
    Fs = Ws if rule == "bp" else (Bs if rule == "fa" else [np.zeros((1, 1), dtype)] + Ds)
    n = X.shape[0]
    f = _numba_floor()
    args = tuple(tuple(a) for a in (Ws, Fs, H, D, G))

    def epoch(order):
        f(n, batch, L, code, *args)

    return epoch


_FLOOR = None


def _numba_floor():
    global _FLOOR
    if _FLOOR is None:
        from numba import literal_unroll, njit  # noqa: F401

        @njit(cache=True)
        def floor(n, batch, L, code, Ws, Fs, H, D, G):
            for start in range(0, n, batch):
                m = min(batch, n - start)
                for l in range(1, L + 1):
                    np.dot(H[l - 1][:m], Ws[l - 1].T, H[l][:m])
                for l in range(L, 0, -1):
                    if l > 1:
                        if code == 2:
                            np.dot(D[L][:m], Fs[l - 1], D[l - 1][:m])
                        else:
                            np.dot(D[l][:m], Fs[l - 1], D[l - 1][:m])
                    np.dot(D[l][:m].T, H[l - 1][:m], G[l - 1])

        _FLOOR = floor
    return _FLOOR


# ------------------------------------------------------------- NumPy trainer
def make_numpy(X, labels, sizes, rule, batch, dtype, lr, seed=0):
    """A plain vectorised NumPy trainer (returns epoch(order) -> mean loss)."""
    Ws, bs, Bs, Ds = init_params(sizes, dtype, seed)
    onehot = np.eye(sizes[-1], dtype=dtype)[labels]
    n, L = X.shape[0], len(sizes) - 1

    def epoch(order):
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            x, t, m = X[idx], onehot[idx], len(idx)
            # forward
            hs = [x]
            for l in range(L - 1):
                hs.append(np.tanh(hs[-1] @ Ws[l].T + bs[l]))
            a = hs[-1] @ Ws[-1].T + bs[-1]
            a = a - a.max(axis=1, keepdims=True)
            log_p = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
            total -= (t * log_p).sum()
            e = (np.exp(log_p) - t) / m
            # teaching signals, top layer first: deltas[l-1] is delta_l
            deltas = [None] * L
            deltas[-1] = e
            for l in range(L - 1, 0, -1):
                if rule == "bp":
                    g = deltas[l] @ Ws[l]
                elif rule == "fa":
                    g = deltas[l] @ Bs[l]
                else:
                    g = e @ Ds[l - 1]
                deltas[l - 1] = g * (1 - hs[l] ** 2)
            # SGD step
            for l in range(L):
                Ws[l] -= lr * (deltas[l].T @ hs[l])
                bs[l] -= lr * deltas[l].sum(axis=0)
        return total / n

    epoch.params = (Ws, bs)  # read by benchmarks/rules_epoch.py for the test accuracy
    return epoch


# --------------------------------------------------------------------- torch
def make_torch_manual(X, labels, sizes, rule, batch, dtype, lr, seed=0):
    import torch

    tdt = torch.float32 if dtype == np.float32 else torch.float64
    Ws, bs, Bs, Ds = (list(map(torch.from_numpy, p)) for p in init_params(sizes, dtype, seed))
    Xt = torch.from_numpy(X)
    onehot = torch.eye(sizes[-1], dtype=tdt)[torch.from_numpy(labels)]
    n, L = X.shape[0], len(sizes) - 1

    @torch.no_grad()
    def epoch(order):
        order = torch.from_numpy(order)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            x, t, m = Xt[idx], onehot[idx], len(idx)
            hs = [x]
            for l in range(L - 1):
                hs.append(torch.tanh(torch.addmm(bs[l], hs[-1], Ws[l].T)))
            a = torch.addmm(bs[-1], hs[-1], Ws[-1].T)
            log_p = torch.log_softmax(a, dim=1)
            total -= float((t * log_p).sum())
            e = (log_p.exp_() - t) / m
            deltas = [None] * L
            deltas[-1] = e
            for l in range(L - 1, 0, -1):
                if rule == "bp":
                    g = deltas[l] @ Ws[l]
                elif rule == "fa":
                    g = deltas[l] @ Bs[l]
                else:
                    g = e @ Ds[l - 1]
                deltas[l - 1] = g.mul_(1 - hs[l] ** 2)
            for l in range(L):
                Ws[l].addmm_(deltas[l].T, hs[l], alpha=-lr)
                bs[l].sub_(deltas[l].sum(0), alpha=lr)
        return total / n

    return epoch


def make_torch_autograd(X, labels, sizes, rule, batch, dtype, lr, seed=0):
    import torch

    if rule != "bp":
        return None
    Ws, bs, _, _ = init_params(sizes, dtype, seed)
    params = [torch.from_numpy(p).requires_grad_() for p in Ws + bs]
    Ws, bs = params[:len(Ws)], params[len(Ws):]
    opt = torch.optim.SGD(params, lr=lr)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(labels)
    n, L = X.shape[0], len(sizes) - 1

    def epoch(order):
        order = torch.from_numpy(order)
        total = 0.0
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            h = Xt[idx]
            for l in range(L - 1):
                h = torch.tanh(torch.nn.functional.linear(h, Ws[l], bs[l]))
            a = torch.nn.functional.linear(h, Ws[-1], bs[-1])
            loss = torch.nn.functional.cross_entropy(a, yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        return total / n

    return epoch
