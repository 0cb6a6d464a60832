"""Private Numba kernels: the elementwise work of a training step.

Every kernel takes preallocated arrays, works in place or into an ``out``
argument, draws no random numbers and imports nothing from the package.
Matrix products are not here: they go to BLAS through ``np.dot`` in the
callers.  Each kernel has a plain-NumPy twin in :mod:`fa_lessons.reference`
with the same name (without the underscore), and the tests compare the two.

Sums run in a fixed sequential order with a float64 accumulator, and no
``fastmath`` flag is used, so results are bit-identical from run to run and
whether the Numba cache is warm or cold.
"""

import math

import numpy as np
from numba import njit

# Hidden activations (integer codes shared with fa_lessons.activations).
LINEAR = 0
TANH = 1
SIGMOID = 2
RELU = 3

# Output layer + loss pairs.
SOFTMAX_CE = 0  # softmax output, cross-entropy loss
LINEAR_SE = 1  # linear output, squared error 1/2 ||e||^2
SIGMOID_BCE = 2  # sigmoid output, binary cross-entropy
SIGMOID_SE = 3  # sigmoid output, squared error

_jit = njit(cache=True, error_model="numpy")


@_jit
def _sigmoid(x):
    # Stable for large |x| in both directions.
    if x >= 0:
        z = np.exp(-x)
        return 1.0 / (1.0 + z)
    z = np.exp(x)
    return z / (1.0 + z)


@_jit
def _tanh32(x):
    """tanh of a float32 value, computed in float64 without calling libm.

    ``u = expm1(2|x|)`` comes from a degree-7 Taylor series of
    ``expm1(2|x| / 1024)`` followed by ten doublings
    ``expm1(2y) = u (2 + u)``, and ``tanh|x| = u / (u + 2)``.  Only adds,
    multiplies and one division, so the loop that calls it vectorises.  The
    float64 result is within about 1e-13 (relative) of tanh, so the float32
    answer is the correctly rounded one except when tanh lies within that
    distance of a rounding boundary, and then it is 1 ulp away: at most 1
    float32 ulp from ``np.tanh`` in float64 over the whole float32 range
    (``tests/test_perf_numerics.py``).  Arguments beyond 9.5 in magnitude give
    +-1 exactly (as does float32 rounding of tanh from 9.02 on); NaN stays NaN.
    """
    a = abs(np.float64(x))
    if a > 9.5:
        a = 9.5
    y = a * (2.0 / 1024.0)
    u = y * (1.0 + y * (1.0 / 2.0 + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (
        1.0 / 120.0 + y * (1.0 / 720.0 + y * (1.0 / 5040.0)))))))
    for _ in range(10):
        u = u * (2.0 + u)
    return math.copysign(u / (u + 2.0), x)


@_jit
def _bias_activate(A, b, code):
    """A <- f(A + b) in place, row by row; ``b`` broadcast over rows.

    float32 tanh uses :func:`_tanh32` (within 1 ulp, vectorised; libm's
    scalar ``tanhf`` is about 20 times slower); float64 uses ``np.tanh``.
    """
    n, m = A.shape
    if code == TANH and A.itemsize == 4:
        for i in range(n):
            for j in range(m):
                A[i, j] = _tanh32(A[i, j] + b[j])
    elif code == TANH:
        for i in range(n):
            for j in range(m):
                A[i, j] = np.tanh(A[i, j] + b[j])
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                A[i, j] = _sigmoid(A[i, j] + b[j])
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                v = A[i, j] + b[j]
                A[i, j] = v if v > 0 else 0.0
    else:
        for i in range(n):
            for j in range(m):
                A[i, j] = A[i, j] + b[j]


@_jit
def _mul_derivative(G, H, code):
    """G <- G * f'(a), with f' written through h = f(a) (same shape as G)."""
    n, m = G.shape
    if code == TANH:
        for i in range(n):
            for j in range(m):
                h = H[i, j]
                G[i, j] = G[i, j] * (1.0 - h * h)
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                h = H[i, j]
                G[i, j] = G[i, j] * (h * (1.0 - h))
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                if not H[i, j] > 0:
                    G[i, j] = 0.0


@_jit
def _output_error(A, b, T, code, E):
    """Output layer, loss and output error in one pass.

    On entry ``A`` holds ``h_{L-1} W_L^T`` (no bias yet); on exit it holds the
    output ``h_L = g(A + b)``.  ``E`` receives ``e = dL/da_L`` for the batch
    mean loss (so each row carries the factor 1/N; the error is divided by N,
    as the NumPy reference writes it, so that a float64 NumPy loop gives the
    same bits).  Returns the mean loss.
    """
    n, m = A.shape
    inv_n = 1.0 / n
    total = 0.0
    if code == SOFTMAX_CE:
        for i in range(n):
            mx = -np.inf
            for j in range(m):
                A[i, j] = A[i, j] + b[j]
                if A[i, j] > mx:
                    mx = A[i, j]
            s = 0.0
            for j in range(m):
                s += np.exp(A[i, j] - mx)
            lse = mx + np.log(s)
            row = 0.0
            for j in range(m):
                a = A[i, j]
                t = T[i, j]
                if t != 0.0:
                    row += t * (lse - a)
                p = np.exp(a - lse)
                A[i, j] = p
                E[i, j] = (p - t) / n
            total += row
    elif code == LINEAR_SE:
        for i in range(n):
            row = 0.0
            for j in range(m):
                y = A[i, j] + b[j]
                A[i, j] = y
                d = y - T[i, j]
                row += d * d
                E[i, j] = d / n
            total += 0.5 * row
    elif code == SIGMOID_BCE:
        for i in range(n):
            row = 0.0
            for j in range(m):
                a = A[i, j] + b[j]
                t = T[i, j]
                # softplus(a) - t*a = -t log s(a) - (1-t) log(1-s(a)), stable.
                sp = max(a, 0.0) + np.log1p(np.exp(-abs(a)))
                row += sp - t * a
                y = _sigmoid(a)
                A[i, j] = y
                E[i, j] = (y - t) / n
            total += row
    else:  # SIGMOID_SE
        for i in range(n):
            row = 0.0
            for j in range(m):
                y = _sigmoid(A[i, j] + b[j])
                A[i, j] = y
                d = y - T[i, j]
                row += d * d
                E[i, j] = d * (y * (1.0 - y)) * inv_n
            total += 0.5 * row
    return total * inv_n


@_jit
def _column_sum(D, out):
    """out[j] <- sum_i D[i, j], summed in row order."""
    n, m = D.shape
    for j in range(m):
        acc = 0.0
        for i in range(n):
            acc += D[i, j]
        out[j] = acc


@_jit
def _optimizer_step(P, G, V, lr, momentum, decay, manhattan):
    """One optimizer step on a flat parameter array, in place.

    ``d = sign(G)`` if ``manhattan`` else ``G``; with momentum
    ``V <- momentum V + d`` and ``d = V``.  The step ``s = -lr d`` is written
    back into ``G`` (rules such as Kolen-Pollack read it), and
    ``P <- P + s - decay P`` with ``decay = lr * weight_decay``.
    """
    n = P.size
    if momentum != 0.0:
        for k in range(n):
            g = G[k]
            if manhattan:
                g = np.sign(g)
            v = momentum * V[k] + g
            V[k] = v
            s = -lr * v
            G[k] = s
            P[k] = P[k] + s - decay * P[k]
    else:
        for k in range(n):
            g = G[k]
            if manhattan:
                g = np.sign(g)
            s = -lr * g
            G[k] = s
            P[k] = P[k] + s - decay * P[k]


@_jit
def _add_step(P, S, decay):
    """P <- P + S - decay P (the Kolen-Pollack update of a feedback matrix)."""
    n = P.size
    for k in range(n):
        P[k] = P[k] + S[k] - decay * P[k]


@_jit
def _signed_magnitude(M, W, scale, out):
    """out <- scale * |M| * sign(W) (sign-symmetric feedback)."""
    n = W.size
    for k in range(n):
        out[k] = scale * abs(M[k]) * np.sign(W[k])
