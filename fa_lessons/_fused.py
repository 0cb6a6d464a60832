"""Private compiled training loop: many SGD steps in one Numba call.

Used by :func:`fa_lessons.training.train` when the configuration allows (see
``train._fused_plan``); the Python loop in ``train.py`` is the readable
version and the tests check that both give the same weights.  The
Performance appendix of the book (``book/performance.md``) explains it.

What one step does, for a batch of ``m`` rows (notation of the book):

1. gather the batch rows ``X[order[...]]`` into a preallocated buffer;
2. forward: ``h_l = f(h_{l-1} W_l^T + b_l)`` with ``np.dot`` (BLAS) into
   preallocated buffers and the elementwise kernels of ``_kernels``;
3. output error and loss (``_kernels._output_error``); a NaN/inf loss stops
   the loop *before* the step is applied;
4. for ``l = L .. 1``: first the teaching signal of layer ``l-1`` (it reads
   ``W_l`` or ``B_l`` before they change), then the update of ``W_l``.
   With plain SGD (weight decay allowed) on a large layer the update is
   folded into the weight-gradient product, one BLAS call
   ``W_l <- (1 - decay) W_l - lr delta_l^T h_{l-1}`` (GEMM with
   ``alpha = -lr``, ``beta = 1 - decay``), so ``dW`` is never written to
   memory.  Otherwise (momentum, Batch Manhattan, Kolen-Pollack, small
   layers) ``dW`` goes to a buffer and ``_kernels._optimizer_step`` applies
   the step exactly as the Python loop does.
5. the rule's per-step hook (Kolen-Pollack's ``B <- B + s - decay B``, the
   sign-symmetric ``B = |M| sign(W)``).

All parameters and buffers are packed into flat arrays with offset tables,
so one compiled function serves every depth; each dtype is compiled on
first use and cached on disk (``cache=True``).  Nothing is allocated inside
the loop (views only), no random numbers are drawn, and sums run in a fixed
order, so results are deterministic.

BLAS is reached through Numba's own ``numba_xxgemm`` helper (the function
``np.dot`` uses inside ``@njit``, which calls SciPy's BLAS), declared as an
external function by name: that keeps the compiled code cacheable, which a
ctypes function pointer would not.
"""

import numpy as np
from numba import njit, types

from . import _kernels as K

_jit = njit(cache=True, error_model="numpy")

# Rule codes (train._fused_plan maps rule classes to them).
BP = 0
FA = 1  # fa and the delta_{l+1} B_{l+1} part of kp, usf, frsf
DFA = 2
SHALLOW = 3

# Per-step hooks.
HOOK_NONE = 0
HOOK_KP = 1  # B_l <- B_l + s_l - decay B_l
HOOK_SIGN = 2  # B_l <- |M_l| * sign(W_l)

#: Layers with at least this many weights get the update folded into the
#: GEMM.  Smaller layers (cache-resident) take the exact two-pass update of
#: the Python loop, so small networks reproduce a NumPy loop bit for bit.
FOLD_MIN = 1 << 15

_GEMM_SIG = types.intc(types.char, types.char, types.char,  # kind, transa, transb
                       types.intp, types.intp, types.intp,  # m, n, k
                       types.voidptr, types.voidptr, types.intp,  # alpha, a, lda
                       types.voidptr, types.intp,  # b, ldb
                       types.voidptr, types.voidptr, types.intp)  # beta, c, ldc
_xxgemm = types.ExternalFunction("numba_xxgemm", _GEMM_SIG)


@_jit
def _gemm_update(D, H, alpha, beta, W, ab):
    """``W <- beta W + alpha D^T H`` (row-major, C-contiguous arrays), one BLAS call.

    ``D`` is ``(m, n_out)``, ``H`` is ``(m, n_in)``, ``W`` is ``(n_out, n_in)``;
    ``ab`` is a 2-element scratch array of ``W``'s dtype holding alpha and
    beta (BLAS takes them by pointer).  Returns BLAS's status (0 = success).

    In column-major terms ``W^T = beta W^T + alpha H^T D``: BLAS sees ``H``
    untransposed (``n_in x m``, lda ``n_in``) and ``D`` transposed.
    """
    n_out, n_in = W.shape
    m = D.shape[0]
    ab[0] = alpha
    ab[1] = beta
    kind = 100 if W.itemsize == 8 else 115  # 'd' or 's'
    return _xxgemm(kind, 110, 116, n_in, n_out, m,  # 'n', 't'
                   ab.ctypes, H.ctypes, n_in, D.ctypes, n_out,
                   ab[1:].ctypes, W.ctypes, n_in)


@_jit
def _layer(F, off, l, rows, cols):
    """The 2-D view ``(rows, cols)`` of segment ``l`` of a flat array."""
    start = off[l]
    return F[start:start + rows * cols].reshape((rows, cols))


@_jit
def _steps(X, T, order, first, last, batch, sizes,
           Wf, woff, bf, boff, Ff, foff, Mf, Vf, Vbf, Gf, Gbf,
           Hf, Df, hoff, Xb, Tb, ab,
           rule, hook, hidden, output, lr, momentum, decay, manhattan, bias):
    """Run steps ``first .. last-1`` of an epoch; see the module docstring.

    ``order`` is the epoch's permutation of the ``n`` examples; step ``s``
    uses rows ``order[s*batch : (s+1)*batch]`` (the last batch may be
    smaller).  ``Wf``/``bf``/``Ff``/``Mf`` hold ``W_l``, ``b_l``, the feedback
    matrices and the sign-symmetric magnitudes, segment ``l-1`` for layer
    ``l`` at offsets ``woff``/``boff``/``foff``; ``Vf``/``Vbf`` the momentum
    state; ``Gf``/``Gbf`` the gradient buffers; ``Hf``/``Df`` the activities
    and teaching signals of layers 1..L (offset ``hoff[l-1]``, room for
    ``batch`` rows).

    Returns ``(loss_sum, done, bad_loss)``: the sum over the steps of
    ``batch loss * rows``, the number of steps applied and, if a batch loss
    was NaN or inf, that loss (the loop stops before applying that step;
    ``bad_loss`` is 0.0 otherwise).
    """
    n = X.shape[0]
    n0 = X.shape[1]
    nL = T.shape[1]
    L = sizes.shape[0] - 1
    loss_sum = 0.0
    for s in range(first, last):
        start = s * batch
        m = min(batch, n - start)
        # 1. gather the batch
        for r in range(m):
            k = order[start + r]
            for j in range(n0):
                Xb[r, j] = X[k, j]
            for j in range(nL):
                Tb[r, j] = T[k, j]
        x = Xb[:m]
        # 2. forward
        h = x
        for l in range(1, L + 1):
            W = _layer(Wf, woff, l - 1, sizes[l], sizes[l - 1])
            A = _layer(Hf, hoff, l - 1, m, sizes[l])
            np.dot(h, W.T, A)
            if l < L:
                K._bias_activate(A, bf[boff[l - 1]:boff[l]], hidden)
            h = A
        # 3. output error and loss
        E = _layer(Df, hoff, L - 1, m, nL)
        loss = K._output_error(h, bf[boff[L - 1]:boff[L]], Tb[:m], output, E)
        if not np.isfinite(loss):
            return loss_sum, s - first, loss
        loss_sum += loss * m
        # 4. teaching signals and updates, top layer first
        for l in range(L, 0, -1):
            if rule == SHALLOW and l < L:
                break
            W = _layer(Wf, woff, l - 1, sizes[l], sizes[l - 1])
            D = _layer(Df, hoff, l - 1, m, sizes[l])
            if l > 1 and rule != SHALLOW:
                Dp = _layer(Df, hoff, l - 2, m, sizes[l - 1])
                if rule == BP:
                    np.dot(D, W, Dp)
                elif rule == DFA:
                    np.dot(E, _layer(Ff, foff, l - 2, nL, sizes[l - 1]), Dp)
                else:
                    np.dot(D, _layer(Ff, foff, l - 1, sizes[l], sizes[l - 1]), Dp)
                K._mul_derivative(Dp, _layer(Hf, hoff, l - 2, m, sizes[l - 1]), hidden)
            hp = x if l == 1 else _layer(Hf, hoff, l - 2, m, sizes[l - 1])
            w0, w1 = woff[l - 1], woff[l]
            if (momentum == 0.0 and not manhattan and hook != HOOK_KP
                    and w1 - w0 >= FOLD_MIN):
                if _gemm_update(D, hp, -lr, 1.0 - decay, W, ab) != 0:
                    raise RuntimeError("the BLAS matrix product failed")
            else:
                G = _layer(Gf, woff, l - 1, sizes[l], sizes[l - 1])
                np.dot(D.T, hp, G)
                # Vf is empty without momentum (the kernel then never reads it).
                K._optimizer_step(Wf[w0:w1], Gf[w0:w1], Vf[w0:w1], lr, momentum, decay,
                                  manhattan)
                if hook == HOOK_KP:
                    K._add_step(Ff[foff[l - 1]:foff[l]], Gf[w0:w1], decay)
            if bias:
                b0, b1 = boff[l - 1], boff[l]
                K._column_sum(D, Gbf[b0:b1])
                K._optimizer_step(bf[b0:b1], Gbf[b0:b1], Vbf[b0:b1], lr, momentum, 0.0,
                                  manhattan)
        # 5. the rule's hook
        if hook == HOOK_SIGN:
            for l in range(L):
                K._signed_magnitude(Mf[woff[l]:woff[l + 1]], Wf[woff[l]:woff[l + 1]], 1.0,
                                    Ff[foff[l]:foff[l + 1]])
    return loss_sum, last - first, 0.0


# ---------------------------------------------------------------- Python side
def _pack(arrays, dtype):
    """Copy arrays into one flat array; return ``(flat, offsets)`` (int64)."""
    off = np.zeros(len(arrays) + 1, np.int64)
    off[1:] = np.cumsum([a.size for a in arrays], dtype=np.int64)
    flat = np.empty(int(off[-1]), dtype)
    for a, o in zip(arrays, off):
        flat[o:o + a.size] = a.reshape(-1)
    return flat, off


def _unpack(flat, off, arrays):
    """Copy the segments of ``flat`` back into ``arrays`` (in place)."""
    for a, o in zip(arrays, off):
        a.reshape(-1)[...] = flat[o:o + a.size]


class Loop:
    """The packed state of one :func:`fa_lessons.training.train` call on the compiled path.

    Parameters
    ----------
    net : MLP
    rule : Rule
        Its ``feedback`` (and ``_magnitudes`` for ``hook=HOOK_SIGN``) are
        copied in; :meth:`write_back` copies them out again.
    opt : Optimizer
        Its ``lr``, ``momentum``, ``decay`` and ``name``; the momentum state
        starts at zero, as in a fresh optimizer.
    X, T : ndarray
        Inputs ``(n, n_0)`` and targets ``(n, n_L)`` of the network's dtype.
    batch : int
    rule_code, hook : int
        From the module constants.
    """

    def __init__(self, net, rule, opt, X, T, batch, rule_code, hook):
        dt = net.dtype
        self.net, self.rule, self.hook = net, rule, hook
        self.X = np.ascontiguousarray(X)
        self.T = np.ascontiguousarray(T)
        self.batch = int(batch)
        self.sizes = np.asarray(net.sizes, np.int64)
        self.Wf, self.woff = _pack(net.weights, dt)
        self.bf, self.boff = _pack(net.biases, dt)
        self.Ff, self.foff = _pack(rule.feedback, dt)
        self.Mf, _ = _pack(rule._magnitudes if hook == HOOK_SIGN else [], dt)
        mom = opt.momentum != 0.0
        self.Vf = np.zeros(self.Wf.size if mom else 0, dt)
        self.Vbf = np.zeros(self.bf.size if mom else 0, dt)
        self.Gf = np.zeros_like(self.Wf)
        self.Gbf = np.zeros_like(self.bf)
        hoff = np.zeros(len(net.sizes), np.int64)
        hoff[1:] = self.batch * np.cumsum(net.sizes[1:], dtype=np.int64)
        self.hoff = hoff
        self.Hf = np.zeros(int(hoff[-1]), dt)
        self.Df = np.zeros(int(hoff[-1]), dt)
        self.Xb = np.zeros((self.batch, net.sizes[0]), dt)
        self.Tb = np.zeros((self.batch, net.sizes[-1]), dt)
        self.ab = np.zeros(2, dt)
        self.args = (rule_code, hook, net._hidden_code, net._output_code, float(opt.lr),
                     float(opt.momentum), float(opt.decay), opt.name == "manhattan",
                     bool(net.bias))

    def run(self, order, first, last):
        """Steps ``first .. last-1`` of the epoch with permutation ``order``.

        Returns ``(loss_sum, steps_done, bad_loss)`` as :func:`_steps`.
        """
        return _steps(self.X, self.T, order, first, last, self.batch, self.sizes,
                      self.Wf, self.woff, self.bf, self.boff, self.Ff, self.foff, self.Mf,
                      self.Vf, self.Vbf, self.Gf, self.Gbf, self.Hf, self.Df, self.hoff,
                      self.Xb, self.Tb, self.ab, *self.args)

    def write_back(self):
        """Copy the packed weights, biases and feedback into the network and rule."""
        _unpack(self.Wf, self.woff, self.net.weights)
        _unpack(self.bf, self.boff, self.net.biases)
        if self.hook != HOOK_NONE:
            _unpack(self.Ff, self.foff, self.rule.feedback)
