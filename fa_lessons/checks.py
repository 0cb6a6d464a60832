"""Check functions for the coding exercises of the book.

Introduced in chapter 1 and used in every chapter.  Each exercise stub ends
with a call such as ``checks.fa_delta(fa_delta)``: the check runs the
learner's function on several seeded cases (float32 and float64 inputs, a
batch of one, zero weights, square matrices that let a missing transpose slip
through silently, ...) and compares the answer with the package's own
implementation (:mod:`fa_lessons.reference`, :mod:`fa_lessons.metrics`) or
with plain NumPy.

* On success it prints one line to stdout, for example
  ``✓ fa_delta: 6 cases passed (float32 and float64, batch of one, ...)``,
  and returns ``None``.
* Otherwise it raises :class:`CheckFailed` (an ``AssertionError``) whose
  message says in plain words what is wrong: which case, which shape, which
  entry and by how much, and, when the answer matches a typical mistake
  (a missing transpose, a derivative taken at the wrong point, a sum where a
  mean was meant, a flipped sign, ...), which mistake.
* A function that still raises ``NotImplementedError`` (the stub) gets a
  message saying so; the ``NotImplementedError`` is chained as the cause.

``checks.cases(name)`` returns the inputs (and expected answers) of a check,
so that a learner can reproduce a failing case.

Dtype policy (a choice, documented in the book's instructor page): answers
are compared in float64 with a tolerance that suits the dtype of the inputs
(relative ``2e-4`` for float32, ``1e-9`` for float64; angles in degrees to
``0.1`` and ``1e-6``).  An answer that comes back as float64 for float32
inputs is still accepted, because its values are right; the success line
then carries a note that explains how to keep float32 (the package does, to
halve memory and time).  Learner code runs with NumPy warnings silenced
(nothing goes to stderr); warnings that were raised are quoted in the
failure message instead.

Every check is deterministic: the cases are drawn from fixed seeds.
"""

import copy
import numbers
import warnings
import zlib

import numpy as np

from . import reference as _ref

__all__ = [
    "CheckFailed", "cases",
    "softmax_ce_error", "bp_delta", "weight_gradients", "backward_pass",
    "shallow_gradients", "fa_delta", "nse", "angle", "weight_angles",
    "pseudobackprop_signal", "dfa_delta", "dfa_feedback", "usf_feedback",
    "brsf_feedback", "manhattan_step", "kp_update", "mirror_update", "update_angles",
]

#: The check names, in the order of the book (chapter 1 to 8).
CHECKS = tuple(__all__[2:])

#: The chapter that introduces each check (the exercise contract).
CHECK_CHAPTERS = {
    "softmax_ce_error": 1, "bp_delta": 1, "weight_gradients": 1,
    "backward_pass": 2, "shallow_gradients": 2,
    "fa_delta": 3, "nse": 3, "angle": 3,
    "weight_angles": 4, "pseudobackprop_signal": 4,
    "dfa_delta": 5, "dfa_feedback": 5,
    "usf_feedback": 6, "brsf_feedback": 6, "manhattan_step": 6,
    "kp_update": 7, "mirror_update": 7,
    "update_angles": 8,
}


class CheckFailed(AssertionError):
    """Raised by a check when the learner's answer is wrong, with a plain-language message.

    Introduced in chapter 1.  It is an ``AssertionError``, so code that
    expects a failed assertion (pytest, nbval's ``raises-exception``) treats it
    as one.
    """


# ----------------------------------------------------------------- tolerances

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_RTOL = {_F32: 2e-4, _F64: 1e-9}
_ANGLE_ATOL = {_F32: 0.1, _F64: 1e-6}    # degrees
_STUB_ADVICE = ("Write your solution in place of the line `raise NotImplementedError(...)` "
                "and run the cell again.")


def _rng(name, k=0):
    """A generator seeded from the check's name: fixed across runs and platforms."""
    return np.random.default_rng([zlib.crc32(name.encode()), k])


# ------------------------------------------------------------------ the cases


class _Case:
    """One input set of a check: a name shown to the learner, the inputs and tags."""

    def __init__(self, name, inputs, tags=(), dtype=_F64, **extra):
        self.name = name
        self.inputs = inputs
        self.tags = tuple(tags)
        self.dtype = np.dtype(dtype)
        self.extra = extra
        self.expected = None


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value   # numbers, strings and generators (a generator is shared, so it advances)


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    return True


def _describe(value):
    """Short description of an input: shapes and dtypes, never the numbers of an array."""
    if isinstance(value, np.ndarray):
        return f"{value.shape} {value.dtype}"
    if isinstance(value, np.random.Generator):
        return "a numpy Generator"
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, np.ndarray) for v in value):
            return (f"[{', '.join(str(v.shape) for v in value)}] {value[0].dtype}")
        if value and all(isinstance(v, (tuple, list)) for v in value):
            shapes = ", ".join(str(v[0].shape) for v in value)
            return f"{len(value)} pairs (dW, db), dW shapes [{shapes}]"
        return repr(list(value)) if isinstance(value, list) else repr(value)
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


def _describe_inputs(case):
    parts = []
    for k, v in case.inputs.items():
        d = _describe(v)
        parts.append(f"{k}={d}" if isinstance(v, (numbers.Number, str)) or
                     (isinstance(v, list) and not v) or
                     (isinstance(v, list) and all(isinstance(x, numbers.Number) for x in v))
                     else f"{k} {d}")
    return ", ".join(parts)


def _as_array(value):
    """``value`` as a float64 array, or ``None`` if it is not numeric."""
    if isinstance(value, (str, bytes, dict)) or value is None:
        return None
    try:
        arr = np.asarray(value)
    except Exception:
        return None
    if arr.dtype.kind not in "fiub":
        return None
    return arr.astype(np.float64)


def _what(value):
    """How to name what the learner returned, in a message."""
    if value is None:
        return "None (did you forget the `return` statement?)"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item{'s' if len(value) != 1 else ''}"
    return f"a {type(value).__name__}"


def _fmt(x):
    return f"{x:.4g}"


def _fmt2(got, exp):
    """Format two numbers with enough digits to tell them apart."""
    for digits in (4, 6, 8, 10, 13, 17):
        a, b = f"{got:.{digits}g}", f"{exp:.{digits}g}"
        if a != b:
            return a, b
    return a, b


def _index(idx):
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _rel(got, exp):
    if exp == 0:
        return f"absolute difference {_fmt(abs(got - exp))}"
    r = abs(got - exp) / abs(exp)
    if r >= 10:
        return "relative difference more than 1000%"
    return f"relative difference {100 * r:.0f}%" if r >= 1 else \
        f"relative difference {100 * r:.2g}%"


# Expected outputs are built as a tree of _Leaf (an array or a number, with the name a
# message uses for it) and _Seq (a pair or a list of sub-trees).


class _Leaf:
    def __init__(self, value, subject, dtype, scalar=False, atol=None):
        self.value = value
        self.subject = subject
        self.scalar = scalar
        self.rtol = _RTOL[dtype]
        self.atol = atol

    def problem(self, got, nan_equal=False):
        exp = self.value
        if got is None:
            return f"{self.subject} is {_what(None)}"
        arr = _as_array(got)
        if arr is None:
            kind = "a number" if self.scalar else f"an array of shape {np.shape(exp)}"
            return f"{self.subject} should be {kind} but is {_what(got)}"
        if self.scalar:
            if arr.size != 1:
                return (f"{self.subject} is an array of shape {arr.shape}, but a single number "
                        f"is expected (reduce over all entries)")
            arr = arr.reshape(())
            exp = np.asarray(exp, dtype=np.float64)
        if arr.shape != exp.shape:
            msg = f"{self.subject} has shape {arr.shape} but should have shape {exp.shape}"
            if arr.ndim == 2 and arr.shape == exp.shape[::-1]:
                msg += " (the transposed shape: check which matrix needs .T)"
            return msg
        scale = float(np.abs(exp).max()) if exp.size else 0.0
        atol = self.atol if self.atol is not None else self.rtol * max(scale, 1e-30)
        finite = np.isfinite(arr)
        if nan_equal:
            same_bad = (~finite & ~np.isfinite(exp)
                        & ((arr == exp) | (np.isnan(arr) & np.isnan(exp))))
        else:
            same_bad = np.zeros(arr.shape, bool)
        if not (finite | same_bad).all():
            idx = np.argwhere(~(finite | same_bad))[0]
            where = f" at entry {_index(idx)}" if arr.ndim else ""
            return (f"{self.subject} is {arr[tuple(idx)]}{where}, but should be "
                    f"{_fmt(exp[tuple(idx)])}")
        ok = finite & np.isfinite(exp)
        diff = np.where(ok, np.abs(arr - np.where(ok, exp, 0)), 0.0)
        tol = atol + self.rtol * np.abs(np.where(ok, exp, 0))
        wrong = (diff > tol) | (finite != np.isfinite(exp))
        if not wrong.any():
            return None
        if arr.ndim == 0:
            g, e = float(arr), float(exp)
            fg, fe = _fmt2(g, e)
            return f"{self.subject} is {fg} but should be {fe} ({_rel(g, e)})"
        idx = np.unravel_index(int(np.argmax(np.where(wrong, diff, -1.0))), arr.shape)
        g, e = float(arr[idx]), float(exp[idx])
        fg, fe = _fmt2(g, e)
        return (f"entry {_index(idx)} of {self.subject} is {fg} but should be {fe} "
                f"({_rel(g, e)}); {int(wrong.sum())} of {arr.size} entries are wrong")


class _Seq:
    def __init__(self, items, subject, kind):
        self.items = items
        self.subject = subject
        self.kind = kind   # "pair" (a fixed tuple) or "list"

    def names(self):
        return ", ".join(i.subject.split(" (")[0] if isinstance(i, _Leaf) else
                         "(" + i.names() + ")" for i in self.items)

    def problem(self, got, nan_equal=False):
        n = len(self.items)
        if isinstance(got, np.ndarray) and self.kind == "list" and all(
                isinstance(i, _Leaf) and not i.scalar for i in self.items) and got.ndim >= 1:
            got = list(got)   # a stacked array of equal-shape entries: compare entry by entry
        if not isinstance(got, (list, tuple)) or len(got) != n:
            desc = (f"a pair ({self.names()})" if self.kind == "pair" and n == 2 else
                    f"a {'tuple' if self.kind == 'pair' else 'list'} of {n} "
                    f"item{'s' if n != 1 else ''} ({self.names()})")
            return f"{self.subject} should be {desc} but is {_what(got)}"
        for item, g in zip(self.items, got):
            p = item.problem(g, nan_equal)
            if p:
                return p
        return None


# ---------------------------------------------------------------- the runner


def _fname(fn, name):
    n = getattr(fn, "__name__", "")
    return n if n.isidentifier() else name


def _require_callable(name, fn):
    __tracebackhide__ = True
    if not callable(fn):
        raise CheckFailed(
            f"checks.{name} needs your function itself, e.g. checks.{name}({name}), "
            f"not the result of calling it; got {_what(fn)}")


_TRANSPOSE_HINT = ("A shape error in a product usually means a missing or extra transpose: "
                   "write the shape of each factor next to it.")
_FLATTEN_HINT = ("np.dot (or @) of two 2-D arrays is a matrix product, not a dot product "
                 "of all entries: flatten both arrays first with np.ravel.")


def _call(name, fn, case, index, expected_desc=None, shape_hint=_TRANSPOSE_HINT):
    """Call ``fn`` on copies of the case inputs; turn exceptions into CheckFailed."""
    __tracebackhide__ = True
    fname = _fname(fn, name)
    args = {k: _copy(v) for k, v in case.inputs.items()}
    before = {k: _copy(v) for k, v in args.items()}
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")   # recorded here, quoted in a failure message
        try:
            out = fn(*args.values())
        except NotImplementedError as exc:
            raise CheckFailed(f"{fname} is still the stub: it raised NotImplementedError. "
                              f"{_STUB_ADVICE}") from exc
        except CheckFailed:
            raise
        except Exception as exc:
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            msg = (f"{fname} raised {type(exc).__name__}"
                   f"{': ' + text if text else ''} in case '{case.name}' "
                   f"({_describe_inputs(case)}).")
            low = text.lower()
            if type(exc).__name__ == "LinAlgError":
                msg += (" np.linalg.inv needs a square, invertible matrix;"
                        " np.linalg.pinv works for any shape.")
            elif isinstance(exc, ValueError) and any(
                    w in low for w in ("mismatch", "not aligned", "broadcast", "shapes")):
                msg += " " + shape_hint
            if expected_desc:
                msg += f" The result should be {expected_desc}."
            msg += _inspect(name, index)
            raise CheckFailed(msg) from exc
    for k in args:
        if not _same(args[k], before[k]):
            raise CheckFailed(
                f"{fname} changed its input {k} in place in case '{case.name}'. "
                f"Leave the inputs as they are and return new arrays: write "
                f"`{k} = {k} - ...` or `new = {k} - ...` rather than `{k} -= ...`."
                + _inspect(name, index))
    notes = sorted({str(w.message) for w in caught})
    return out, notes


def _inspect(name, index):
    return f" (Inspect this case with checks.cases('{name}')[{index}].)"


def _dtype_slips(out, case):
    """Whether float32 inputs came back as float64 somewhere in ``out``."""
    if case.dtype != _F32:
        return False
    if isinstance(out, np.ndarray):
        return out.dtype == _F64
    if isinstance(out, (list, tuple)):
        return any(_dtype_slips(o, case) for o in out)
    return False


def _summary(name, cases, slips=0, extra=""):
    tags = []
    dts = {c.dtype for c in cases if "no dtype" not in c.tags}
    if dts == {_F32, _F64}:
        tags.append("float32 and float64")
    for c in cases:
        for t in c.tags:
            if t not in tags and t != "no dtype":
                tags.append(t)
    n = len(cases)
    line = f"✓ {name}: {n} case{'s' if n != 1 else ''} passed"
    if tags:
        line += f" ({', '.join(tags)})"
    print(line + extra)
    if slips:
        print(f"  note: for float32 inputs your function returned float64 in {slips} "
              f"case{'s' if slips != 1 else ''}. The values are right; to keep float32, give "
              f"new arrays the dtype of the inputs (np.zeros(..., dtype=W.dtype), "
              f"x.astype(W.dtype)) and avoid mixing in float64 arrays such as np.eye(K).")


class _Spec:
    """What a value-checked exercise needs: cases, a reference, a layout and mistakes."""

    def __init__(self, name, make_cases, ref, layout, mistakes=(), nonfinite_hint=None,
                 keep_dtype=True, shape_hint=_TRANSPOSE_HINT):
        self.shape_hint = shape_hint
        self.keep_dtype = keep_dtype   # False for angles and numbers (computed in float64)
        self.name = name
        self.make_cases = make_cases
        self.ref = ref
        self.layout = layout
        self.mistakes = mistakes
        self.nonfinite_hint = nonfinite_hint

    def cases(self):
        cs = self.make_cases(_rng(self.name))
        for c in cs:
            args64 = {k: _up(v) for k, v in c.inputs.items()}
            with np.errstate(all="ignore"):
                c.expected = self.ref(**args64)
        return cs

    def expected_tree(self, case):
        return self.layout(case.expected, case)

    def describe_expected(self, case):
        tree = self.expected_tree(case)
        if isinstance(tree, _Leaf):
            return "a number" if tree.scalar else f"an array of shape {np.shape(tree.value)}"
        return f"{'a pair' if tree.kind == 'pair' else 'a list'} ({tree.names()})"

    def diagnose(self, got, case):
        args64 = {k: _up(v) for k, v in case.inputs.items()}
        for text, wrong in self.mistakes:
            try:
                with np.errstate(all="ignore"), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    raw = wrong(**args64)
                tree = self.layout(raw, case)
            except Exception:
                continue
            if tree.problem(got, nan_equal=True) is None:
                return text
        return None

    def diagnose_elsewhere(self, fn, cases):
        """After an exception in one case: does the answer in another case match a mistake?

        A missing transpose raises a shape error on rectangular matrices but runs on square
        ones, where the value gives the mistake away.
        """
        for case in cases:
            try:
                out, _ = _call(self.name, fn, case, 0)
            except CheckFailed:
                continue
            if self.expected_tree(case).problem(out) is None:
                continue
            hint = self.diagnose(out, case)
            if hint:
                return f"in case '{case.name}', where it runs, the answer shows that {hint}"
        return None

    def run(self, fn):
        __tracebackhide__ = True
        _require_callable(self.name, fn)
        fname = _fname(fn, self.name)
        cases = self.cases()
        slips = 0
        for i, case in enumerate(cases):
            try:
                out, notes = _call(self.name, fn, case, i, self.describe_expected(case),
                                   self.shape_hint)
            except CheckFailed as exc:
                cause = exc.__cause__
                if cause is None or isinstance(cause, NotImplementedError):
                    raise
                hint = self.diagnose_elsewhere(fn, cases)
                if not hint:
                    raise
                text, suffix = str(exc), _inspect(self.name, i)
                if text.endswith(suffix):
                    text = text[:-len(suffix)]
                raise CheckFailed(f"{text} Likely cause: {hint}{suffix}") from cause
            problem = self.expected_tree(case).problem(out)
            if problem:
                msg = (f"{fname} is wrong in case '{case.name}' ({_describe_inputs(case)}): "
                       f"{problem}.")
                hint = self.diagnose(out, case)
                if hint is None and self.nonfinite_hint and not _all_finite(out):
                    hint = self.nonfinite_hint(case)
                if hint:
                    msg += f" Likely cause: {hint}"
                if notes:
                    msg += f" NumPy warned: {'; '.join(notes)}."
                raise CheckFailed(msg + _inspect(self.name, i))
            slips += self.keep_dtype and _dtype_slips(out, case)
        _summary(self.name, cases, slips)


def _all_finite(out):
    arr = _as_array(out)
    if arr is not None:
        return bool(np.isfinite(arr).all())
    if isinstance(out, (list, tuple)):
        return all(_all_finite(o) for o in out)
    return True


def _up(v):
    """Inputs in float64 for the reference (integer arrays stay integer)."""
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return v.astype(np.float64)
    if isinstance(v, list):
        return [_up(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_up(x) for x in v)
    return v


def _arr_layout(subject="the result"):
    def layout(raw, case):
        return _Leaf(np.asarray(raw, dtype=np.float64), subject, case.dtype)
    return layout


def _scalar_layout(subject="the result", angle=False):
    def layout(raw, case):
        atol = _ANGLE_ATOL[case.dtype] if angle else None
        return _Leaf(float(raw), subject, case.dtype, scalar=True, atol=atol)
    return layout


def _pair_layout(*names):
    def layout(raw, case):
        return _Seq([_Leaf(np.asarray(r, dtype=np.float64), n, case.dtype)
                     for r, n in zip(raw, names)], "the result", "pair")
    return layout


_SPECS = {}


def _register(spec):
    _SPECS[spec.name] = spec
    return spec


# ---------------------------------------------------------- shared generators


def _tanh_h(rng, shape, dtype):
    return np.tanh(rng.normal(0.0, 1.0, size=shape)).astype(dtype)


def _normal(rng, shape, dtype, scale=1.0):
    return rng.normal(0.0, scale, size=shape).astype(dtype)


def _delta_cases(signal, matrix):
    """Cases for ``fn(signal, matrix, h)`` -> ``(signal @ matrix) * (1 - h**2)``."""
    def make(rng):
        out = []
        specs = [("float64", 3, 4, 5, _F64, ()),
                 ("float32", 3, 4, 5, _F32, ()),
                 ("float64, batch of one", 1, 4, 5, _F64, ("batch of one",)),
                 ("float32, batch of one", 1, 3, 6, _F32, ("batch of one",)),
                 ("float64, square matrices", 4, 4, 4, _F64, ("square matrices",)),
                 ("float32, zero weights", 3, 4, 5, _F32, ("zero weights",))]
        for name, n, k, m, dt, tags in specs:
            M = _normal(rng, (k, m), dt) * (0 if "zero weights" in tags else 1)
            out.append(_Case(name, {signal: _normal(rng, (n, k), dt), matrix: M.astype(dt),
                                    "h": _tanh_h(rng, (n, m), dt)}, tags, dt))
        return out
    return make


def _delta_mistakes(signal, matrix):
    s, M = signal, matrix
    ms = [
        (f"{M}.T was used instead of {M}; {s} @ {M} already has the shape of h "
         f"({M} has the shape (n_next, n) of the forward matrix it stands for).",
         lambda **a: (a[s] @ a[M].T) * (1 - a["h"] ** 2)),
        ("the derivative was taken at the wrong point: 1 - np.tanh(h)**2 treats h as the "
         "pre-activation a, but h = tanh(a) already, so f'(a) = 1 - h**2.",
         lambda **a: (a[s] @ a[M]) * (1 - np.tanh(a["h"]) ** 2)),
        ("the derivative f'(a) = 1 - h**2 is missing: multiply elementwise by it.",
         lambda **a: a[s] @ a[M]),
        ("the sign is flipped.", lambda **a: -(a[s] @ a[M]) * (1 - a["h"] ** 2)),
        ("1 - h was used instead of 1 - h**2.", lambda **a: (a[s] @ a[M]) * (1 - a["h"])),
        ("h * (1 - h) is the derivative of the logistic sigmoid; tanh units need 1 - h**2.",
         lambda **a: (a[s] @ a[M]) * a["h"] * (1 - a["h"])),
        ("h**2 was used instead of 1 - h**2.", lambda **a: (a[s] @ a[M]) * a["h"] ** 2),
    ]
    return ms


def _delta_ref(signal, matrix):
    def ref(**a):
        return _ref.mul_derivative(a[signal] @ a[matrix], a["h"], "tanh")
    return ref


# ================================================================= chapter 1

def _softmax_cases(rng):
    out = []
    specs = [("float64", 5, 4, _F64, 1.0, ()), ("float32", 5, 4, _F32, 1.0, ()),
             ("float64, batch of one", 1, 3, _F64, 1.0, ("batch of one",)),
             ("float32, batch of one", 1, 3, _F32, 1.0, ("batch of one",)),
             ("float64, square (N = K = 4)", 4, 4, _F64, 2.0, ("square",)),
             ("float64, large logits", 4, 3, _F64, 1000.0, ("large logits",)),
             ("float32, large logits", 4, 3, _F32, 100.0, ("large logits",)),
             ("float32, zero logits", 3, 5, _F32, 0.0, ("zero logits",))]
    for name, n, k, dt, scale, tags in specs:
        A = (rng.normal(0.0, 1.0, size=(n, k)) * scale).astype(dt)
        labels = rng.integers(0, k, size=n).astype(np.int64)
        out.append(_Case(name, {"A": A, "labels": labels}, tags, dt))
    return out


def _onehot(labels, k):
    t = np.zeros((len(labels), k))
    t[np.arange(len(labels)), labels] = 1
    return t


def _softmax_ref(A, labels):
    return _ref.output_error(A, np.zeros(A.shape[1]), _onehot(labels, A.shape[1]),
                             "softmax", "cross_entropy")[2]


def _sm(A, axis=1):
    z = np.exp(A - A.max(axis=axis, keepdims=True))
    return z / z.sum(axis=axis, keepdims=True)


_register(_Spec(
    "softmax_ce_error", _softmax_cases, _softmax_ref, _arr_layout(),
    mistakes=[
        ("the 1/N is missing (a sum where a mean was meant): e carries the factor 1/N of the "
         "batch-mean loss, so divide by N = len(A).",
         lambda A, labels: _sm(A) - _onehot(labels, A.shape[1])),
        ("the sign is flipped: e = softmax(A) - onehot(labels), prediction minus target.",
         lambda A, labels: (_onehot(labels, A.shape[1]) - _sm(A)) / len(A)),
        ("the softmax was taken over the wrong axis: each row (one example) must sum to 1, "
         "so normalise with axis=1, keepdims=True.",
         lambda A, labels: (_sm(A, axis=0) - _onehot(labels, A.shape[1])) / len(A)),
        ("the one-hot targets are missing: subtract onehot(labels) from softmax(A).",
         lambda A, labels: _sm(A) / len(A)),
        ("it was divided by the number of classes K instead of the batch size N.",
         lambda A, labels: (_sm(A) - _onehot(labels, A.shape[1])) / A.shape[1]),
        ("it was divided by N * K (a mean over all entries); divide by N = len(A) only.",
         lambda A, labels: (_sm(A) - _onehot(labels, A.shape[1])) / A.size),
        ("np.exp overflowed: subtract each row's maximum from A before np.exp (the softmax "
         "does not change, and the largest exponent becomes exp(0) = 1).",
         lambda A, labels: (np.exp(A) / np.exp(A).sum(axis=1, keepdims=True)
                            - _onehot(labels, A.shape[1])) / len(A)),
    ],
    nonfinite_hint=lambda case: (
        "np.exp overflowed for large logits: subtract each row's maximum from A before "
        "np.exp." if "large logits" in case.tags else None),
))


def softmax_ce_error(fn):
    """Check ``fn(A, labels)`` = ``(softmax(A) - onehot(labels)) / N`` (ex-softmax-ce-error).

    Introduced in chapter 1.  ``A`` (N, K) already includes the bias and
    ``labels`` holds N integer classes; the answer has shape (N, K).  Cases
    include a batch of one, large logits (the row maximum must be subtracted
    before ``np.exp``) and zero logits.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["softmax_ce_error"].run(fn)


_register(_Spec("bp_delta", _delta_cases("delta_next", "W_next"),
                _delta_ref("delta_next", "W_next"), _arr_layout(),
                _delta_mistakes("delta_next", "W_next")))


def bp_delta(fn):
    """Check ``fn(delta_next, W_next, h)`` = ``(delta_next @ W_next) * (1 - h**2)`` (ex-bp-delta).

    Introduced in chapter 1: the backpropagated teaching signal of a tanh
    layer, a batch stored as rows.  ``W_next`` is ``W_{l+1}``, shape
    ``(n_{l+1}, n_l)``.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake
        (missing transpose, derivative at the wrong point, ...).
    """
    __tracebackhide__ = True
    _SPECS["bp_delta"].run(fn)


def _wg_cases(rng):
    out = []
    specs = [("float64", 5, 3, 4, _F64, ()), ("float32", 5, 3, 4, _F32, ()),
             ("float64, batch of one", 1, 3, 4, _F64, ("batch of one",)),
             ("float32, batch of one", 1, 2, 5, _F32, ("batch of one",)),
             ("float64, square (N = n_l = n_{l-1} = 4)", 4, 4, 4, _F64, ("square matrices",)),
             ("float32, zero error", 3, 3, 4, _F32, ("zero error",))]
    for name, n, m, p, dt, tags in specs:
        d = _normal(rng, (n, m), dt) * (0 if "zero error" in tags else 1)
        out.append(_Case(name, {"delta": d.astype(dt), "h_prev": _tanh_h(rng, (n, p), dt)},
                         tags, dt))
    return out


_register(_Spec(
    "weight_gradients", _wg_cases,
    lambda delta, h_prev: (delta.T @ h_prev, _ref.column_sum(delta)),
    _pair_layout("dW", "db"),
    mistakes=[
        ("dW is transposed: h_prev.T @ delta has shape (n_{l-1}, n_l), but dW has the shape "
         "of W_l, (n_l, n_{l-1}): use delta.T @ h_prev.",
         lambda delta, h_prev: (h_prev.T @ delta, delta.sum(0))),
        ("db is the batch mean, but the 1/N is already inside delta (e carries it): "
         "db = delta.sum(axis=0).",
         lambda delta, h_prev: (delta.T @ h_prev, delta.mean(0))),
        ("dW was divided by the batch size, but the 1/N is already inside delta.",
         lambda delta, h_prev: (delta.T @ h_prev / len(delta), delta.sum(0))),
        ("dW and db were both divided by the batch size, but the 1/N is already inside delta.",
         lambda delta, h_prev: (delta.T @ h_prev / len(delta), delta.mean(0))),
        ("db was summed over the wrong axis: sum over the batch, axis=0.",
         lambda delta, h_prev: (delta.T @ h_prev, delta.sum(1))),
        ("the sign is flipped: the gradient is delta.T @ h_prev; the minus sign belongs to "
         "the update W - lr * dW.",
         lambda delta, h_prev: (-(delta.T @ h_prev), -delta.sum(0))),
    ]))


def weight_gradients(fn):
    """Check ``fn(delta, h_prev)`` = ``(delta.T @ h_prev, delta.sum(0))`` (ex-weight-gradients).

    Introduced in chapter 1.  The answer is the pair ``(dW, db)``: ``dW`` has
    the shape of ``W_l``, ``(n_l, n_{l-1})``, and ``db`` has shape ``(n_l,)``.
    ``delta`` already carries the factor ``1/N``.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["weight_gradients"].run(fn)


# ================================================================= chapter 2

def _net_inputs(rng, sizes, n, dt, zero=False):
    L = len(sizes) - 1
    mats = [(_normal(rng, (sizes[l], sizes[l - 1]), dt) * (0 if zero else 1)).astype(dt)
            for l in range(1, L + 1)]
    hs = [_normal(rng, (n, sizes[0]), dt)] + [_tanh_h(rng, (n, sizes[l]), dt)
                                             for l in range(1, L)]
    e = (_normal(rng, (n, sizes[-1]), dt) / n).astype(dt)
    return e, mats, hs


def _bw_cases(rng):
    out = []
    specs = [("float64", [4, 5, 3, 2], 3, _F64, ()), ("float32", [4, 5, 3, 2], 3, _F32, ()),
             ("float64, batch of one", [3, 4, 5, 2], 1, _F64, ("batch of one",)),
             ("float32, batch of one", [3, 4, 5, 2], 1, _F32, ("batch of one",)),
             ("float64, one layer (no hidden layer)", [4, 2], 3, _F64, ("one layer",)),
             ("float64, square matrices", [4, 4, 4, 4], 4, _F64, ("square matrices",)),
             ("float32, zero weights", [3, 4, 4, 3], 2, _F32, ("zero weights",))]
    for name, sizes, n, dt, tags in specs:
        e, mats, hs = _net_inputs(rng, sizes, n, dt, zero="zero weights" in tags)
        out.append(_Case(name, {"e": e, "matrices": mats, "hs": hs}, tags, dt))
    return out


def _backward(e, matrices, hs, deriv=lambda h: _ref.derivative_from_output(h, "tanh"),
              pick=lambda ms, l: ms[l],
              hpick=lambda hs, l: hs[l]):
    L = len(matrices)
    deltas = [None] * L
    deltas[L - 1] = e
    for l in range(L - 1, 0, -1):   # hidden layer l (1-based), stored at index l-1
        deltas[l - 1] = (deltas[l] @ pick(matrices, l)) * deriv(hpick(hs, l))
    return deltas


def _list_layout(prefix):
    def layout(raw, case):
        return _Seq([_Leaf(np.asarray(r, dtype=np.float64), f"{prefix}_{l} (list item {l - 1})",
                           case.dtype) for l, r in enumerate(raw, start=1)], "the result", "list")
    return layout


_register(_Spec(
    "backward_pass", _bw_cases,
    lambda e, matrices, hs: _backward(e, matrices, hs),
    _list_layout("delta"),
    mistakes=[
        ("the list is in reverse order: it must start with delta_1 and end with delta_L = e.",
         lambda e, matrices, hs: _backward(e, matrices, hs)[::-1]),
        ("delta_L = e is missing at the end of the list (there is one delta per layer, "
         "L in all).", lambda e, matrices, hs: _backward(e, matrices, hs)[:-1]),
        ("matrices[l-1] (W_l) was used for delta_l, but delta_l comes back through "
         "W_{l+1} = matrices[l].",
         lambda e, matrices, hs: _backward(e, matrices, hs, pick=lambda ms, l: ms[l - 1])),
        ("the matrices were transposed: delta_{l+1} @ matrices[l] already has the shape of "
         "hs[l].",
         lambda e, matrices, hs: _backward(e, matrices, hs, pick=lambda ms, l: ms[l].T)),
        ("the derivative was taken at the wrong point: 1 - np.tanh(h)**2 treats h as the "
         "pre-activation, but h = tanh(a) already, so f'(a) = 1 - h**2.",
         lambda e, matrices, hs: _backward(e, matrices, hs, deriv=lambda h: 1 - np.tanh(h) ** 2)),
        ("the derivative used hs[l-1] instead of hs[l] (hs[0] is the input X, hs[l] is h_l).",
         lambda e, matrices, hs: _backward(e, matrices, hs, hpick=lambda hs, l: hs[l - 1])),
        ("the derivative f'(a_l) = 1 - hs[l]**2 is missing.",
         lambda e, matrices, hs: _backward(e, matrices, hs, deriv=lambda h: 1.0)),
    ]))


def backward_pass(fn):
    """Check ``fn(e, matrices, hs)`` -> ``[delta_1, ..., delta_L]`` (ex-backward-pass).

    Introduced in chapter 2.  ``delta_L = e`` and
    ``delta_l = (delta_{l+1} @ matrices[l]) * (1 - hs[l]**2)``, where
    ``matrices[l-1]`` stands in place of ``W_l`` (the weights for BP, the
    feedback matrices for FA) and ``hs = [X, h_1, ..., h_{L-1}]``.  Cases
    include a network without hidden layer and zero weights.

    Raises
    ------
    CheckFailed
        With a message naming the case, the list item, the entry and the
        likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["backward_pass"].run(fn)


def _sh_cases(rng):
    out = []
    specs = [("float64", [4, 5, 3, 2], 3, _F64, ()), ("float32", [4, 5, 3, 2], 3, _F32, ()),
             ("float64, batch of one", [3, 4, 2], 1, _F64, ("batch of one",)),
             ("float32, one layer (no hidden layer)", [4, 3], 2, _F32, ("one layer",)),
             ("float64, square matrices", [4, 4, 4], 4, _F64, ("square matrices",)),
             ("float32, zero error", [3, 4, 2], 2, _F32, ("zero error",))]
    for name, sizes, n, dt, tags in specs:
        e, mats, hs = _net_inputs(rng, sizes, n, dt)
        if "zero error" in tags:
            e = np.zeros_like(e)
        out.append(_Case(name, {"e": e, "hs": hs, "weights": mats}, tags, dt))
    return out


def _shallow(e, hs, weights, out_grad=lambda e, h: (e.T @ h, e.sum(0)), hidden=None):
    L = len(weights)
    grads = []
    for l in range(1, L):
        W = weights[l - 1]
        grads.append(hidden(l) if hidden else (np.zeros_like(W), np.zeros(W.shape[0])))
    grads.append(out_grad(e, hs[-1]))
    return grads


def _bp_grads(e, hs, weights):
    deltas = _backward(e, weights, hs)
    return [(d.T @ h, d.sum(0)) for d, h in zip(deltas, hs)]


def _pairs_layout(raw, case):
    items = []
    for l, r in enumerate(raw, start=1):
        if isinstance(r, (tuple, list)) and len(r) == 2:
            items.append(_Seq([_Leaf(np.asarray(r[0], dtype=np.float64), f"dW_{l} (layer {l})",
                                     case.dtype),
                               _Leaf(np.asarray(r[1], dtype=np.float64), f"db_{l} (layer {l})",
                                     case.dtype)],
                              f"list item {l - 1} (layer {l})", "pair"))
        else:
            raise TypeError("not a pair")
    return _Seq(items, "the result", "list")


_register(_Spec(
    "shallow_gradients", _sh_cases,
    lambda e, hs, weights: _shallow(e, hs, weights, out_grad=lambda e, h: (
        e.T @ h, _ref.column_sum(e))),
    _pairs_layout,
    mistakes=[
        ("the hidden layers got backpropagated gradients, but in the shallow control only the "
         "output layer learns: return zero arrays (np.zeros_like(W), np.zeros(len(W))) for "
         "hidden layers.", _bp_grads),
        ("the output dW is transposed: it has the shape of W_L, so use e.T @ hs[-1].",
         lambda e, hs, weights: _shallow(e, hs, weights,
                                         out_grad=lambda e, h: (h.T @ e, e.sum(0)))),
        ("the output db is the batch mean, but the 1/N is already inside e: use e.sum(axis=0).",
         lambda e, hs, weights: _shallow(e, hs, weights,
                                         out_grad=lambda e, h: (e.T @ h, e.mean(0)))),
        ("the output dW used hs[0] (the input X) instead of hs[-1] (the last hidden layer).",
         lambda e, hs, weights: _shallow(e, hs, weights,
                                         out_grad=lambda e, h: (e.T @ hs[0], e.sum(0)))),
        ("the list is in reverse order: it must start with layer 1 and end with the output "
         "layer L.", lambda e, hs, weights: _shallow(e, hs, weights)[::-1]),
    ]))


def shallow_gradients(fn):
    """Check ``fn(e, hs, weights)`` -> the gradients of the shallow control (ex-shallow-gradients).

    Introduced in chapter 2.  The answer is a list of ``(dW, db)`` pairs, one
    per layer: zero arrays (shapes of ``W_l`` and ``b_l``) for the hidden
    layers and ``(e.T @ hs[-1], e.sum(axis=0))`` for the output layer.

    Raises
    ------
    CheckFailed
        With a message naming the case, the layer, the entry and the likely
        mistake.
    """
    __tracebackhide__ = True
    _SPECS["shallow_gradients"].run(fn)


# ================================================================= chapter 3

_register(_Spec("fa_delta", _delta_cases("delta_next", "B_next"),
                _delta_ref("delta_next", "B_next"), _arr_layout(),
                _delta_mistakes("delta_next", "B_next")))


def fa_delta(fn):
    """Check ``fn(delta_next, B_next, h)`` = ``(delta_next @ B_next) * (1 - h**2)`` (ex-fa-delta).

    Introduced in chapter 3: the teaching signal of feedback alignment.
    ``B_next`` has the shape of ``W_{l+1}``, ``(n_{l+1}, n_l)``.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["fa_delta"].run(fn)


def _nse_cases(rng):
    out = []
    specs = [("float64", (10, 3), _F64, None, ()), ("float32", (10, 3), _F32, None, ()),
             ("float64, batch of one", (1, 3), _F64, None, ("batch of one",)),
             ("float64, zero prediction (a network that outputs zeros)", (6, 4), _F64, "zero",
              ("zero prediction",)),
             ("float32, perfect prediction", (5, 2), _F32, "perfect", ("perfect prediction",))]
    for name, shape, dt, kind, tags in specs:
        y_true = _normal(rng, shape, dt)
        if kind == "zero":
            y_pred = np.zeros(shape, dt)
        elif kind == "perfect":
            y_pred = y_true.copy()
        else:
            y_pred = (y_true + _normal(rng, shape, dt, 0.5)).astype(dt)
        out.append(_Case(name, {"y_pred": y_pred, "y_true": y_true}, tags, dt))
    return out


def _nse_ref(y_pred, y_true):
    from .metrics import normalised_squared_error
    return normalised_squared_error(y_pred, y_true)


_register(_Spec(
    "nse", _nse_cases, _nse_ref, _scalar_layout(), keep_dtype=False,
    mistakes=[
        ("it was normalised by sum(y_pred**2); the denominator is sum(y_true**2), the size of "
         "the target.",
         lambda y_pred, y_true: np.sum((y_pred - y_true) ** 2) / np.sum(y_pred ** 2)),
        ("this is the mean squared error, not normalised: divide the sum of squared errors by "
         "np.sum(y_true**2).", lambda y_pred, y_true: np.mean((y_pred - y_true) ** 2)),
        ("the sum of squared errors is not normalised: divide it by np.sum(y_true**2).",
         lambda y_pred, y_true: np.sum((y_pred - y_true) ** 2)),
        ("a square root was taken: the NSE is the ratio of the squared norms itself.",
         lambda y_pred, y_true: np.sqrt(np.sum((y_pred - y_true) ** 2) / np.sum(y_true ** 2))),
        ("the denominator was squared after summing: use np.sum(y_true**2), not "
         "np.sum(y_true)**2.",
         lambda y_pred, y_true: np.sum((y_pred - y_true) ** 2) / np.sum(y_true) ** 2),
        ("the ratio was computed per example and averaged: sum over all entries first, "
         "then divide once.",
         lambda y_pred, y_true: np.mean(np.sum((y_pred - y_true) ** 2, axis=-1)
                                        / np.sum(y_true ** 2, axis=-1))),
    ]))


def nse(fn):
    """Check ``fn(y_pred, y_true)`` = ``sum((y_pred - y_true)**2) / sum(y_true**2)`` (ex-nse).

    Introduced in chapter 3: Lillicrap et al.'s normalised squared error, a
    single number (1 for a network that outputs zeros, 0 for a perfect fit).

    Raises
    ------
    CheckFailed
        With a message naming the case and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["nse"].run(fn)


def _angle_cases(rng):
    out = []
    a = rng.normal(size=7)
    b = rng.normal(size=7)
    out.append(_Case("float64 vectors", {"a": a, "b": b}, (), _F64))
    a2 = _normal(rng, (3, 4), _F32)
    b2 = (a2 + _normal(rng, (3, 4), _F32, 0.7)).astype(_F32)
    out.append(_Case("float32 matrices (3, 4): flatten them", {"a": a2, "b": b2},
                     ("2-D arrays",), _F32))
    out.append(_Case("float32, batch of one (1, 5)", {"a": _normal(rng, (1, 5), _F32),
                                                      "b": _normal(rng, (1, 5), _F32)},
                     ("batch of one",), _F32))
    # b = 3 a exactly, but rounding pushes the unclipped cosine above 1 for this vector.
    p = np.random.default_rng(65).normal(size=8)
    out.append(_Case("float64, parallel (b = 3 a: rounding pushes the cosine above 1)",
                     {"a": p, "b": 3 * p}, ("parallel",), _F64))
    out.append(_Case("float64, antiparallel (b = -3 a)", {"a": p, "b": -3 * p},
                     ("antiparallel",), _F64))
    q = np.random.default_rng(0).normal(size=(2, 4)).astype(_F32)
    out.append(_Case("float32, parallel matrices (b = 3 a)", {"a": q, "b": q * np.float32(3)},
                     ("parallel",), _F32))
    out.append(_Case("float64, orthogonal", {"a": np.array([1.0, 0.0, 0.0]),
                                             "b": np.array([0.0, 2.0, 0.0])},
                     ("orthogonal",), _F64))
    return out


def _angle_ref(a, b):
    from .metrics import angle as _angle
    return _angle(a, b)


def _cos(a, b):
    a, b = np.ravel(a), np.ravel(b)
    return a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


_ANGLE_MISTAKES = [
    ("the angle is in radians; convert with np.degrees.",
     lambda a, b: np.arccos(np.clip(_cos(a, b), -1, 1))),
    ("this is the cosine, not the angle: take np.degrees(np.arccos(cosine)).",
     lambda a, b: _cos(a, b)),
    ("the cosine was not clipped: rounding can push it just past 1 (or -1) for parallel "
     "arrays, and np.arccos then gives nan. Use np.clip(cosine, -1.0, 1.0).",
     lambda a, b: np.degrees(np.arccos(_cos(a, b)))),
    ("the dot product was not divided by the norms |a| |b|.",
     lambda a, b: np.degrees(np.arccos(np.clip(np.ravel(a) @ np.ravel(b), -1, 1)))),
]

_register(_Spec(
    "angle", _angle_cases, _angle_ref, _scalar_layout(angle=True), _ANGLE_MISTAKES,
    keep_dtype=False, shape_hint=_FLATTEN_HINT,
    nonfinite_hint=lambda case: (
        "the cosine was not clipped: rounding can push it just past 1 (or -1), and np.arccos "
        "then gives nan. Use np.clip(cosine, -1.0, 1.0).")))


def angle(fn):
    """Check ``fn(a, b)``: the angle in degrees between two arrays, flattened (ex-angle).

    Introduced in chapter 3.  ``degrees(arccos(clip(cos, -1, 1)))``: parallel
    arrays give 0, antiparallel 180, and nearly parallel arrays never ``nan``
    (cases where rounding pushes the cosine past 1 are included).

    Raises
    ------
    CheckFailed
        With a message naming the case and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["angle"].run(fn)


# ================================================================= chapter 4

def _wa_cases(rng):
    out = []
    specs = [("float64", [5, 4, 3, 2], _F64, "random", ()),
             ("float32", [5, 4, 3, 2], _F32, "random", ()),
             ("float64, one layer (no hidden layer: no weight angle)", [4, 3], _F64, "random",
              ("one layer",)),
             ("float32, feedback equal to the weights", [4, 3, 3, 2], _F32, "same", ("aligned",)),
             ("float64, feedback = -weights", [4, 3, 2], _F64, "minus", ("antiparallel",)),
             ("float64, sign-concordant feedback", [6, 5, 4, 3], _F64, "sign", ("sign feedback",))]
    for name, sizes, dt, kind, tags in specs:
        W = [_normal(rng, (sizes[l], sizes[l - 1]), dt) for l in range(1, len(sizes))]
        if kind == "same":
            B = [w.copy() for w in W]
        elif kind == "minus":
            B = [-w for w in W]
        elif kind == "sign":
            B = [(0.3 * np.sign(w)).astype(dt) for w in W]
        else:
            B = [_normal(rng, w.shape, dt) for w in W]
        out.append(_Case(name, {"weights": W, "feedback": B}, tags, dt))
    return out


def _wa(weights, feedback, first=1, stop=None, conv=np.degrees):
    L = len(weights)
    stop = L if stop is None else stop
    return np.array([conv(np.arccos(np.clip(_cos(weights[l], feedback[l]), -1, 1)))
                     for l in range(first, stop)])


def _angles_layout(raw, case):
    return _Leaf(np.asarray(raw, dtype=np.float64).reshape(-1), "the array of angles", case.dtype,
                 atol=_ANGLE_ATOL[case.dtype])


def _wa_ref(weights, feedback):
    from .metrics import angle as _angle
    return np.array([_angle(weights[l], feedback[l]) for l in range(1, len(weights))])


_register(_Spec(
    "weight_angles", _wa_cases, _wa_ref, _angles_layout, keep_dtype=False,
    shape_hint=_FLATTEN_HINT,
    mistakes=[
        ("the first layer was included: weight angles are for the hidden layers l = 1..L-1, "
         "comparing W_{l+1} = weights[l] with B_{l+1} = feedback[l], so there are L-1 of them.",
         lambda weights, feedback: _wa(weights, feedback, first=0)),
        ("off by one: weights[l-1] (W_l) was compared with feedback[l-1] (B_l); the weight "
         "angle of hidden layer l compares W_{l+1} = weights[l] with B_{l+1} = feedback[l].",
         lambda weights, feedback: _wa(weights, feedback, first=0, stop=len(weights) - 1)),
        ("the angles are in radians; convert with np.degrees.",
         lambda weights, feedback: _wa(weights, feedback, conv=lambda x: x)),
    ]))


def weight_angles(fn):
    """Check ``fn(weights, feedback)``: the weight angle of every hidden layer (ex-weight-angles).

    Introduced in chapter 4.  The answer is an array of ``L-1`` angles in
    degrees, entry ``l-1`` = angle(``weights[l]``, ``feedback[l]``), i.e.
    ``W_{l+1}`` against ``B_{l+1}``; an empty array for a network without
    hidden layer.

    Raises
    ------
    CheckFailed
        With a message naming the case and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["weight_angles"].run(fn)


def _pbp_cases(rng):
    out = []
    specs = [("float64", 4, 3, 6, _F64, ()), ("float32", 4, 3, 6, _F32, ()),
             ("float64, batch of one", 1, 3, 6, _F64, ("batch of one",)),
             ("float32, batch of one", 1, 2, 5, _F32, ("batch of one",)),
             ("float64, square W (pinv = inverse)", 4, 4, 4, _F64, ("square W",)),
             ("float64, zero weights (pinv(0) = 0)", 3, 3, 5, _F64, ("zero weights",))]
    for name, n, k, m, dt, tags in specs:
        W = _normal(rng, (k, m), dt)
        if "square W" in tags:
            W = (W + 3 * np.eye(k)).astype(dt)    # well conditioned
        if "zero weights" in tags:
            W = np.zeros((k, m), dt)
        out.append(_Case(name, {"e": _normal(rng, (n, k), dt), "W": W}, tags, dt))
    return out


def _pbp_layout(raw, case):
    leaf = _Leaf(np.asarray(raw, dtype=np.float64), "the result", case.dtype)
    if case.dtype == _F32:
        leaf.rtol = 2e-3    # pinv in float32
    return leaf


_register(_Spec(
    "pseudobackprop_signal", _pbp_cases,
    lambda e, W: e @ np.linalg.pinv(W).T, _pbp_layout,
    mistakes=[
        ("this is backprop's signal e @ W (W.T carries the error back); pseudo-backprop uses "
         "the pseudoinverse instead: e @ np.linalg.pinv(W).T.", lambda e, W: e @ W),
        ("the pseudoinverse is not transposed: W⁺ e for a column e becomes e @ pinv(W).T for "
         "rows.", lambda e, W: e @ np.linalg.pinv(W)),
        ("the sign is flipped.", lambda e, W: -(e @ np.linalg.pinv(W).T)),
    ]))


def pseudobackprop_signal(fn):
    """Check ``fn(e, W)`` = ``e @ np.linalg.pinv(W).T`` (ex-pseudobackprop-signal).

    Introduced in chapter 4: Lillicrap et al.'s pseudo-backprop signal
    ``Delta h_PBP = W^+ e`` with examples as rows.  Cases include a square W
    (where the pseudoinverse is the inverse) and a zero W.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["pseudobackprop_signal"].run(fn)


# ================================================================= chapter 5

def _dfa_delta_mistakes():
    ms = _delta_mistakes("e", "D")
    ms[0] = ("D.T was used instead of D: D_l has shape (n_L, n_l), so e @ D already has the "
             "shape of h.", ms[0][1])
    return ms


_register(_Spec("dfa_delta", _delta_cases("e", "D"), _delta_ref("e", "D"),
                _arr_layout(), _dfa_delta_mistakes()))


def dfa_delta(fn):
    """Check ``fn(e, D, h)`` = ``(e @ D) * (1 - h**2)`` (ex-dfa-delta).

    Introduced in chapter 5: the teaching signal of direct feedback
    alignment.  ``D`` = ``D_l`` has shape ``(n_L, n_l)``.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["dfa_delta"].run(fn)


def _dfa_fb_cases(rng):
    specs = [("three layers", [20, 50, 40, 30], ()),
             ("MNIST-like, one hidden layer", [784, 100, 10], ()),
             ("one layer (no hidden layer: no D)", [10, 4], ("one layer",)),
             ("deep and narrow", [8, 30, 30, 30, 30, 10], ("deep narrow",))]
    return [_Case(name, {"sizes": sizes, "rng": None}, tags + ("no dtype",), _F64,
                  seed=100 + i) for i, (name, sizes, tags) in enumerate(specs)]


def _fail(msg, name, index):
    __tracebackhide__ = True
    raise CheckFailed(msg + _inspect(name, index))


def dfa_feedback(fn):
    """Check ``fn(sizes, rng)``: the DFA feedback matrices, drawn from ``rng`` (ex-dfa-feedback).

    Introduced in chapter 5.  The answer is a list of ``L-1`` arrays, ``D_l``
    of shape ``(sizes[-1], sizes[l])`` for ``l = 1..L-1``, with entries drawn
    uniformly from ``[-1/sqrt(n_l), 1/sqrt(n_l)]`` with ``rng`` (so the same
    seed gives the same matrices).  The check tests the shapes, the range,
    the mean and spread of the entries, that every layer gets its own draw,
    and that ``rng`` (not ``np.random``) is used.

    Raises
    ------
    CheckFailed
        With a message naming the case, the matrix and the likely mistake.
    """
    __tracebackhide__ = True
    name = "dfa_feedback"
    _require_callable(name, fn)
    fname = _fname(fn, name)
    cases = _fill_rng(_dfa_fb_cases(None))
    for i, case in enumerate(cases):
        sizes = case.inputs["sizes"]
        L = len(sizes) - 1
        where = f"in case '{case.name}' (sizes={sizes})"
        rng_state = copy.deepcopy(case.inputs["rng"].bit_generator.state)
        out, _ = _call(name, fn, case, i, f"a list of {L - 1} arrays")
        if not isinstance(out, (list, tuple)):
            _fail(f"{fname} returned {_what(out)} {where}, but should return a list of {L - 1} "
                  f"arrays D_1 .. D_{L - 1}.", name, i)
        if len(out) != L - 1:
            hint = (" The output layer has no D: D_l exists for hidden layers l = 1..L-1."
                    if len(out) == L else "")
            _fail(f"{fname} returned {len(out)} matrices {where}, but there is one per hidden "
                  f"layer: {L - 1}.{hint}", name, i)
        for l in range(1, L):
            D = out[l - 1]
            nL, nl = sizes[-1], sizes[l]
            arr = _as_array(D)
            if arr is None:
                _fail(f"D_{l} (list item {l - 1}) is {_what(D)} {where}, not an array.", name, i)
            if arr.shape != (nL, nl):
                hint = ""
                if arr.shape == (nl, nL):
                    hint = (" It is transposed: D_l maps the output error e (N, n_L) to layer l, "
                            "so e @ D_l needs D_l of shape (n_L, n_l) = (sizes[-1], sizes[l]).")
                elif l < L and arr.shape == (sizes[-1], sizes[l - 1]):
                    hint = " That is the shape for layer l-1: D_l uses sizes[l]."
                _fail(f"D_{l} has shape {arr.shape} {where}, but should have shape "
                      f"(sizes[-1], sizes[{l}]) = {(nL, nl)}.{hint}", name, i)
            if not np.isfinite(arr).all():
                _fail(f"D_{l} contains nan or inf {where}.", name, i)
            bound = 1 / np.sqrt(nl)
            top = float(np.abs(arr).max())
            cands = [(f"1/sqrt(n_L) = 1/sqrt({nL})", 1 / np.sqrt(nL)),
                     (f"1/sqrt(n_{l - 1}) = 1/sqrt({sizes[l - 1]})", 1 / np.sqrt(sizes[l - 1])),
                     ("1", 1.0), (f"1/n_{l} = 1/{nl}", 1 / nl)]
            if top > bound * (1 + 1e-6) or top < 0.9 * bound:
                guess = [t for t, c in cands if 0.9 * c <= top <= c * (1 + 1e-6)
                         and abs(c - bound) > 1e-3 * bound]
                hint = (f" The range looks like ±{guess[0]}: the half-width must be "
                        f"1/sqrt(n_l) with n_l = sizes[l], the width of the layer that "
                        f"receives the signal." if guess else "")
                if not guess and top > bound:
                    hint = (" A normal distribution has no bound: draw with "
                            "rng.uniform(-s, s, size=...).")
                _fail(f"the entries of D_{l} reach {top:.4g} in absolute value {where}, but "
                      f"D_{l} ~ U[-1/sqrt(n_{l}), 1/sqrt(n_{l})] with n_{l} = {nl} spans "
                      f"±{bound:.4g} (the largest of {arr.size} uniform draws comes close to "
                      f"the bound).{hint}", name, i)
            mean, std = float(arr.mean()), float(arr.std())
            if abs(mean) > 6 * bound / np.sqrt(3 * arr.size):
                _fail(f"the entries of D_{l} have mean {mean:.4g} {where}; uniform entries on "
                      f"[-{bound:.4g}, {bound:.4g}] average close to 0.", name, i)
            want = bound / np.sqrt(3)
            if not 0.8 * want <= std <= 1.2 * want:
                _fail(f"the entries of D_{l} have standard deviation {std:.4g} {where}, but "
                      f"uniform entries on ±{bound:.4g} have {want:.4g} (= bound/sqrt(3)): "
                      f"draw them with rng.uniform(-bound, bound, size=...).", name, i)
            for k in range(1, l):
                if out[k - 1].shape == arr.shape and np.array_equal(out[k - 1], arr):
                    _fail(f"D_{k} and D_{l} are identical {where}: draw a fresh matrix for "
                          f"every layer.", name, i)
        if L > 1 and case.inputs["rng"].bit_generator.state == rng_state:
            _fail(f"{fname} did not draw from rng {where}: draw every entry with "
                  f"rng.uniform(...), from the generator passed in.", name, i)
        again = _fill_rng([case])[0]
        out2, _ = _call(name, fn, again, i)
        same = (isinstance(out2, (list, tuple)) and len(out2) == len(out)
                and all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(out, out2)))
        if not same:
            _fail(f"{fname} gave different matrices for two generators with the same seed "
                  f"{where}: draw every entry from the rng argument (rng.uniform(...)), not "
                  f"from np.random.", name, i)
    _summary(name, cases)


def _fill_rng(cases):
    for c in cases:
        c.inputs["rng"] = np.random.default_rng(c.extra["seed"])
    return cases


# ================================================================= chapter 6

def _w_with_zeros(rng, shape, dt):
    W = _normal(rng, shape, dt)
    W[rng.random(shape) < 0.25] = 0
    W[0] = 0
    return W


def _usf_cases(rng):
    return [
        _Case("float64", {"W": _normal(rng, (4, 5), _F64), "scale": 0.5}, (), _F64),
        _Case("float32, square", {"W": _normal(rng, (3, 3), _F32), "scale": 1.5},
              ("square matrices",), _F32),
        _Case("float64, a single row", {"W": _normal(rng, (1, 6), _F64), "scale": 0.1},
              ("a single row",), _F64),
        _Case("float64, zero weights (sign(0) = 0)", {"W": _w_with_zeros(rng, (4, 6), _F64),
                                                     "scale": 2.0}, ("zero weights",), _F64),
        _Case("float32, zero weights (sign(0) = 0)", {"W": _w_with_zeros(rng, (3, 4), _F32),
                                                     "scale": 0.25}, ("zero weights",), _F32),
    ]


_register(_Spec(
    "usf_feedback", _usf_cases,
    lambda W, scale: _ref.signed_magnitude(np.ones_like(W), W, scale), _arr_layout(),
    mistakes=[
        ("the scale is missing: B = scale * np.sign(W).", lambda W, scale: np.sign(W)),
        ("this is scale * W; uSF keeps only the signs of W: scale * np.sign(W).",
         lambda W, scale: scale * W),
        ("zero weights got a nonzero sign: np.sign(0) = 0, so a zero weight gives a zero "
         "feedback weight (np.where(W >= 0, 1, -1) gets this wrong).",
         lambda W, scale: scale * np.where(W >= 0, 1.0, -1.0)),
        ("the result is transposed: B has the shape of W.", lambda W, scale: scale * np.sign(W).T),
        ("it was divided by the scale instead of multiplied.",
         lambda W, scale: np.sign(W) / scale),
        ("the sign is flipped.", lambda W, scale: -scale * np.sign(W)),
    ]))


def usf_feedback(fn):
    """Check ``fn(W, scale)`` = ``scale * np.sign(W)`` (ex-usf-feedback).

    Introduced in chapter 6: uniform sign-concordant feedback.  Zero weights
    give zero feedback weights.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["usf_feedback"].run(fn)


def _brsf_cases(rng):
    return [
        _Case("float64", {"W": _normal(rng, (6, 8), _F64), "rng": None}, (), _F64, seed=201),
        _Case("float32", {"W": _normal(rng, (5, 5), _F32), "rng": None}, (), _F32, seed=202),
        _Case("float64, a single row", {"W": _normal(rng, (1, 10), _F64), "rng": None},
              ("a single row",), _F64, seed=203),
        _Case("float64, zero weights (sign(0) = 0)",
              {"W": _w_with_zeros(rng, (6, 7), _F64), "rng": None}, ("zero weights",), _F64,
              seed=204),
    ]


def brsf_feedback(fn):
    """Check ``fn(W, rng)`` = ``np.abs(M) * np.sign(W)``, ``M`` drawn afresh (ex-brsf-feedback).

    Introduced in chapter 6: batchwise random-magnitude sign-concordant
    feedback.  The check tests that the signs are those of ``W`` (zero where
    ``W`` is zero), that the magnitudes are random (not all equal, as in
    uSF, and not ``|W|``), that every call draws new magnitudes (a fixed
    ``M`` would be frSF) and that they come from ``rng``.

    Raises
    ------
    CheckFailed
        With a message naming the case and the likely mistake.
    """
    __tracebackhide__ = True
    name = "brsf_feedback"
    _require_callable(name, fn)
    fname = _fname(fn, name)
    cases = _fill_rng(_brsf_cases(_rng(name)))
    slips = 0
    for i, case in enumerate(cases):
        W = case.inputs["W"]
        where = f"in case '{case.name}' (W {W.shape} {W.dtype})"
        outs = []
        for _ in range(2):   # two calls with the same generator, which advances
            out, _ = _call(name, fn, case, i, f"an array of shape {W.shape}")
            outs.append(out)
        out = outs[0]
        arr = _as_array(out)
        if arr is None:
            _fail(f"{fname} returned {_what(out)} {where}, but should return an array of shape "
                  f"{W.shape}.", name, i)
        if arr.shape != W.shape:
            _fail(f"{fname} returned shape {arr.shape} {where}, but B has the shape of W, "
                  f"{W.shape}.", name, i)
        if not np.isfinite(arr).all():
            _fail(f"{fname} returned nan or inf {where}.", name, i)
        sW, sB = np.sign(W.astype(np.float64)), np.sign(arr)
        if not np.array_equal(sW, sB):
            bad = np.argwhere(sW != sB)
            idx = tuple(bad[0])
            if np.array_equal(sB, -sW):
                hint = " All signs are flipped."
            elif (sW[sB != sW] == 0).all():
                hint = " np.sign(0) = 0: a zero weight must give a zero feedback weight."
            else:
                hint = (" Are the magnitudes |M| taken? np.abs(M) is needed, or M's own signs "
                        "mix in.")
            _fail(f"entry {_index(idx)} of {fname}'s result is {_fmt(arr[idx])} but W there is "
                  f"{_fmt(float(W[idx]))} {where}: B must have the sign of W everywhere "
                  f"({len(bad)} of {W.size} entries do not).{hint}", name, i)
        mag = np.abs(arr)[sW != 0]
        if mag.size > 1 and np.allclose(mag, mag[0], rtol=1e-6, atol=0):
            _fail(f"all magnitudes of {fname}'s result are equal ({_fmt(mag[0])}) {where}: that "
                  f"is uSF (scale * sign(W)). brSF multiplies sign(W) by random magnitudes "
                  f"|M|, with M drawn from rng.", name, i)
        if np.allclose(np.abs(arr), np.abs(W), rtol=1e-5, atol=0):
            _fail(f"{fname} returned W itself {where} (|W| * sign(W) = W): the magnitudes "
                  f"must be random, |M| with M drawn from rng.", name, i)
        arr2 = _as_array(outs[1])
        if arr2 is not None and arr2.shape == arr.shape and np.allclose(arr2, arr):
            _fail(f"two calls of {fname} with the same generator returned the same feedback "
                  f"{where}: brSF draws M again at every call (a fixed M is frSF). Draw M "
                  f"inside the function with rng.", name, i)
        again = _fill_rng([case])[0]
        out3, _ = _call(name, fn, again, i)
        if not (isinstance(out3, np.ndarray) or _as_array(out3) is not None) or \
                not np.array_equal(np.asarray(out3), np.asarray(out)):
            _fail(f"{fname} gave different results for two generators with the same seed "
                  f"{where}: draw M from the rng argument (e.g. rng.uniform(...)), not from "
                  f"np.random.", name, i)
        slips += _dtype_slips(out, case)
    _summary(name, cases, slips)


def _manhattan_cases(rng):
    out = []
    specs = [("float64", (4, 5), 0.1, _F64, ()), ("float32, square", (3, 3), 0.01, _F32,
                                                   ("square matrices",)),
             ("float64, a single row", (1, 6), 0.5, _F64, ("a single row",)),
             ("float32, zero gradients", (4, 4), 0.05, _F32, ("zero gradients",))]
    for name, shape, lr, dt, tags in specs:
        dW = _normal(rng, shape, dt, 0.01)
        if "zero gradients" in tags:
            dW[rng.random(shape) < 0.4] = 0
            dW[0] = 0
        out.append(_Case(name, {"W": _normal(rng, shape, dt), "dW": dW, "lr": lr}, tags, dt))
    return out


_register(_Spec(
    "manhattan_step", _manhattan_cases,
    lambda W, dW, lr: _ref.optimizer_step(W, dW, np.zeros_like(W), lr, 0.0, 0.0, True)[0],
    _arr_layout(),
    mistakes=[
        ("this is a plain SGD step W - lr * dW; Batch Manhattan uses only the signs: "
         "W - lr * np.sign(dW).", lambda W, dW, lr: W - lr * dW),
        ("the step has the wrong sign: subtract lr * np.sign(dW).",
         lambda W, dW, lr: W + lr * np.sign(dW)),
        ("the sign of W was used instead of the sign of the gradient dW.",
         lambda W, dW, lr: W - lr * np.sign(W)),
        ("the learning rate is missing: W - lr * np.sign(dW).",
         lambda W, dW, lr: W - np.sign(dW)),
        ("only the step was returned; return the new weights W - lr * np.sign(dW).",
         lambda W, dW, lr: -lr * np.sign(dW)),
        ("the step was transposed.", lambda W, dW, lr: W - lr * np.sign(dW).T),
    ]))


def manhattan_step(fn):
    """Check ``fn(W, dW, lr)`` = ``W - lr * np.sign(dW)`` (ex-manhattan-step).

    Introduced in chapter 6: one Batch Manhattan step.  Zero gradients leave
    their weights unchanged; the input ``W`` must not be modified in place.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["manhattan_step"].run(fn)


# ================================================================= chapter 7

def _kp_cases(rng):
    out = []
    specs = [("float64", (3, 4), 0.1, 0.01, _F64, ()),
             ("float32", (3, 4), 0.05, 0.1, _F32, ()),
             ("float64, zero weight decay", (3, 5), 0.1, 0.0, _F64, ("zero weight decay",)),
             ("float64, a single row", (1, 5), 0.2, 0.05, _F64, ("a single row",)),
             ("float32, square", (4, 4), 0.1, 0.5, _F32, ("square matrices",)),
             ("float64, zero weights", (3, 3), 0.1, 0.1, _F64, ("zero weights",))]
    for name, shape, lr, wd, dt, tags in specs:
        W, B = _normal(rng, shape, dt), _normal(rng, shape, dt)
        if "zero weights" in tags:
            W, B = np.zeros(shape, dt), np.zeros(shape, dt)
        out.append(_Case(name, {"W": W, "B": B, "dW": _normal(rng, shape, dt, 0.5), "lr": lr,
                                "weight_decay": wd}, tags, dt))
    return out


def _kp_ref(W, B, dW, lr, weight_decay):
    s = -lr * dW
    return (_ref.optimizer_step(W, dW, np.zeros_like(W), lr, 0.0, lr * weight_decay, False)[0],
            _ref.add_step(B, s, lr * weight_decay))


_register(_Spec(
    "kp_update", _kp_cases, _kp_ref, _pair_layout("W_new", "B_new"),
    mistakes=[
        ("the weight decay was not multiplied by lr: W - lr*dW - lr*weight_decay*W (and the "
         "same for B).",
         lambda W, B, dW, lr, weight_decay: (W - lr * dW - weight_decay * W,
                                             B - lr * dW - weight_decay * B)),
        ("B was not updated: in Kolen-Pollack B receives the same update as W, "
         "B - lr*dW - lr*weight_decay*B.",
         lambda W, B, dW, lr, weight_decay: (W - lr * dW - lr * weight_decay * W, B)),
        ("B's decay used W: each matrix decays toward zero on its own, "
         "B - lr*dW - lr*weight_decay*B.",
         lambda W, B, dW, lr, weight_decay: (W - lr * dW - lr * weight_decay * W,
                                             B - lr * dW - lr * weight_decay * W)),
        ("the two results are swapped: return (W_new, B_new) in this order.",
         lambda W, B, dW, lr, weight_decay: (B - lr * dW - lr * weight_decay * B,
                                             W - lr * dW - lr * weight_decay * W)),
        ("the gradient step has the wrong sign: subtract lr * dW.",
         lambda W, B, dW, lr, weight_decay: (W + lr * dW - lr * weight_decay * W,
                                             B + lr * dW - lr * weight_decay * B)),
        ("the weight decay has the wrong sign: subtract lr * weight_decay * W.",
         lambda W, B, dW, lr, weight_decay: (W - lr * dW + lr * weight_decay * W,
                                             B - lr * dW + lr * weight_decay * B)),
        ("the weight decay is missing.",
         lambda W, B, dW, lr, weight_decay: (W - lr * dW, B - lr * dW)),
        ("B's update used dW.T; B has the shape of W and gets exactly W's update.",
         lambda W, B, dW, lr, weight_decay: (W - lr * dW - lr * weight_decay * W,
                                             B - lr * dW.T - lr * weight_decay * B)),
    ]))


def kp_update(fn):
    """Check ``fn(W, B, dW, lr, weight_decay)`` -> ``(W_new, B_new)`` (ex-kp-update).

    Introduced in chapter 7: the Kolen-Pollack step,
    ``W - lr*dW - lr*weight_decay*W`` and ``B - lr*dW - lr*weight_decay*B``.
    The inputs must not be modified in place.

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["kp_update"].run(fn)


def _wm_cases(rng):
    out = []
    specs = [("float64", 3, 5, 8, 0.05, 1.0, _F64, ()),
             ("float32", 3, 5, 8, 0.1, 0.5, _F32, ()),
             ("float64, batch of one (one noise sample)", 3, 4, 1, 0.05, 1.0, _F64,
              ("batch of one",)),
             ("float64, zero decay", 2, 5, 6, 0.1, 0.0, _F64, ("zero decay",)),
             ("float64, square W", 4, 4, 4, 0.05, 1.0, _F64, ("square matrices",)),
             ("float32, zero feedback (B = 0 at the start)", 3, 4, 6, 0.05, 1.0, _F32,
              ("zero weights",))]
    for name, k, m, n, lr, decay, dt, tags in specs:
        B = np.zeros((k, m), dt) if "zero weights" in tags else _normal(rng, (k, m), dt)
        out.append(_Case(name, {"B": B, "W": _normal(rng, (k, m), dt),
                                "x": _normal(rng, (n, m), dt), "mirror_lr": lr,
                                "mirror_decay": decay}, tags, dt))
    return out


def _wm(B, W, x, mirror_lr, mirror_decay, mean=True, yx=None, lr_decay=True, sign=1.0):
    y = x @ W.T
    corr = y.T @ x if yx is None else yx(x, W)
    if mean:
        corr = corr / len(x)
    if lr_decay:
        return B + mirror_lr * (corr - sign * mirror_decay * B)
    return B + mirror_lr * corr - mirror_decay * B


_register(_Spec(
    "mirror_update", _wm_cases, _wm, _arr_layout(),
    mistakes=[
        ("the 1/len(x) is missing (a sum where a mean was meant): y.T @ x sums over the noise "
         "samples; divide by len(x).",
         lambda **a: _wm(**a, mean=False)),
        ("the decay was not multiplied by mirror_lr: "
         "B + mirror_lr * (y.T @ x / len(x) - mirror_decay * B).",
         lambda **a: _wm(**a, lr_decay=False)),
        ("the decay has the wrong sign: subtract mirror_decay * B.",
         lambda **a: _wm(**a, sign=-1.0)),
        ("y = x @ W was used; the forward pass of the noise is y = x @ W.T.",
         lambda **a: _wm(**a, yx=lambda x, W: (x @ W).T @ x)),
        ("the correlation is transposed: B has the shape of W, so use y.T @ x, not x.T @ y.",
         lambda **a: _wm(**a, yx=lambda x, W: x.T @ (x @ W.T))),
    ]))


def mirror_update(fn):
    """Check ``fn(B, W, x, mirror_lr, mirror_decay)``: one weight-mirror step (ex-mirror-update).

    Introduced in chapter 7:
    ``B + mirror_lr * ((x @ W.T).T @ x / len(x) - mirror_decay * B)``, with
    noise ``x`` of shape ``(m, n_{l-1})`` sent through ``W`` (shape
    ``(n_l, n_{l-1})``).

    Raises
    ------
    CheckFailed
        With a message naming the case, the entry and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["mirror_update"].run(fn)


# ================================================================= chapter 8

def _ua_cases(rng):
    out = []
    specs = [("float64", [5, 4, 3, 2], _F64, "random", ()),
             ("float32", [5, 4, 3, 2], _F32, "random", ()),
             ("float64, one layer", [4, 3], _F64, "random", ("one layer",)),
             ("float32, same weight updates, different bias updates", [4, 3, 2], _F32, "bias",
              ("equal dW",)),
             ("float64, an antiparallel layer", [4, 3, 3, 2], _F64, "minus", ("antiparallel",))]
    for name, sizes, dt, kind, tags in specs:
        bp = [(_normal(rng, (sizes[l], sizes[l - 1]), dt), _normal(rng, (sizes[l],), dt))
              for l in range(1, len(sizes))]
        if kind == "bias":
            rule = [(dW.copy(), _normal(rng, db.shape, dt)) for dW, db in bp]
        elif kind == "minus":
            rule = [((-dW if l == 0 else (dW + _normal(rng, dW.shape, dt, 0.8)).astype(dt)),
                     db.copy()) for l, (dW, db) in enumerate(bp)]
        else:
            rule = [(_normal(rng, dW.shape, dt), _normal(rng, db.shape, dt)) for dW, db in bp]
        out.append(_Case(name, {"grads_rule": rule, "grads_bp": bp}, tags, dt))
    return out


def _ua(grads_rule, grads_bp, part=lambda g: g[0], conv=np.degrees, layers=None):
    idx = range(len(grads_bp)) if layers is None else layers(len(grads_bp))
    return np.array([conv(np.arccos(np.clip(_cos(part(grads_rule[l]), part(grads_bp[l])), -1, 1)))
                     for l in idx])


def _ua_ref(grads_rule, grads_bp):
    from .metrics import angle as _angle
    return np.array([_angle(r[0], b[0]) for r, b in zip(grads_rule, grads_bp)])


_register(_Spec(
    "update_angles", _ua_cases, _ua_ref, _angles_layout, keep_dtype=False,
    shape_hint=_FLATTEN_HINT,
    mistakes=[
        ("the bias updates (index 1) were compared; the update angle compares the weight "
         "updates dW = grads[l][0].",
         lambda grads_rule, grads_bp: _ua(grads_rule, grads_bp, part=lambda g: g[1])),
        ("dW and db were joined into one vector; the update angle compares the weight updates "
         "dW = grads[l][0] only.",
         lambda grads_rule, grads_bp: _ua(grads_rule, grads_bp, part=lambda g: np.concatenate(
             [np.ravel(g[0]), np.ravel(g[1])]))),
        ("the angles are in radians; convert with np.degrees.",
         lambda grads_rule, grads_bp: _ua(grads_rule, grads_bp, conv=lambda x: x)),
        ("only the hidden layers were compared: there is one update angle per layer, the "
         "output layer included.",
         lambda grads_rule, grads_bp: _ua(grads_rule, grads_bp, layers=lambda L: range(L - 1))),
    ]))


def update_angles(fn):
    """Check ``fn(grads_rule, grads_bp)``: the update angle of every layer (ex-update-angles).

    Introduced in chapter 8.  Both arguments are lists of ``(dW, db)`` pairs,
    one per layer; the answer is an array with one angle in degrees per
    layer, between ``grads_rule[l][0]`` and ``grads_bp[l][0]``.

    Raises
    ------
    CheckFailed
        With a message naming the case and the likely mistake.
    """
    __tracebackhide__ = True
    _SPECS["update_angles"].run(fn)


# ------------------------------------------------------------------ inspection


def cases(name):
    """The input cases of check ``name``, to reproduce a failure by hand.

    Introduced in chapter 1.

    Parameters
    ----------
    name : str
        A check name, e.g. ``"fa_delta"`` (see ``checks.CHECKS``).

    Returns
    -------
    list of dict
        One dict per case, in the order the check runs them, with keys
        ``"name"``, ``"inputs"`` (a dict of argument name to value, passed
        positionally in this order) and ``"expected"`` (the right answer;
        ``None`` for the checks of random draws, ``dfa_feedback`` and
        ``brsf_feedback``).

    Examples
    --------
    >>> from fa_lessons import checks
    >>> case = checks.cases("fa_delta")[1]
    >>> case["name"]
    'float32'
    >>> out = my_fa_delta(**case["inputs"])                  # doctest: +SKIP
    """
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}; the checks are: {', '.join(CHECKS)}")
    if name == "dfa_feedback":
        cs = _fill_rng(_dfa_fb_cases(None))
    elif name == "brsf_feedback":
        cs = _fill_rng(_brsf_cases(_rng(name)))
    else:
        cs = _SPECS[name].cases()
    return [{"name": c.name, "inputs": {k: _copy(v) for k, v in c.inputs.items()},
             "expected": _copy(c.expected)} for c in cs]
