"""GIL-free float32 LAPACK on CPU: Cholesky (``spotrf``), its solve for one right-hand side
(two ``strsv``) and symmetric eigendecomposition (``ssyevd``) for the fused engine's worker
threads.

SciPy's Python LAPACK wrappers hold the GIL for the whole call, so a 60 ms eigendecomposition in
one worker thread stalls the other worker's Python. ``torch.linalg`` releases the GIL but was
slower on the 2-core box (d = 768: Cholesky 5.0-6.1 ms against 2.6-3.7 ms; a solve with the
factor for one vector 0.45-0.52 ms against 0.27-0.31 ms). This module calls SciPy's own OpenBLAS
routines through the C function pointers that ``scipy.linalg.cython_lapack`` (and
``cython_blas``) export for Cython, by ``ctypes``, which releases the GIL for the duration of a
foreign call. Thread counts follow ``threadpoolctl`` like any SciPy BLAS call.

When the pointers cannot be loaded, :data:`AVAILABLE` is False and callers use ``torch.linalg``.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

__all__ = ["AVAILABLE", "potrf_lower", "potrs_lower_vec", "syevd"]

_P = ctypes.c_void_p
_ref = ctypes.byref


def _load(name: str, n_args: int):
    import scipy.linalg.cython_blas as cb
    import scipy.linalg.cython_lapack as cl

    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    cap = (cl if name in cl.__pyx_capi__ else cb).__pyx_capi__[name]
    ptr = api.PyCapsule_GetPointer(cap, api.PyCapsule_GetName(cap))
    if not ptr:
        raise OSError(f"no function pointer for {name}")
    return ctypes.CFUNCTYPE(None, *([_P] * n_args))(ptr)


try:
    _spotrf = _load("spotrf", 5)
    _ssyevd = _load("ssyevd", 11)
    _strsv = _load("strsv", 8)
    AVAILABLE = True
except Exception:  # noqa: BLE001 - any failure means: use torch.linalg instead
    AVAILABLE = False


def _order(a: np.ndarray) -> int:
    if a.dtype != np.float32 or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"expected a square float32 matrix; received {a.dtype} {a.shape}")
    if not (a.flags.c_contiguous or a.flags.f_contiguous) or not a.flags.writeable:
        raise ValueError("expected a writeable contiguous matrix")
    return a.shape[0]


def potrf_lower(a: np.ndarray) -> int:
    """Overwrite the lower triangle of the symmetric ``a`` (C- or Fortran-ordered) with its
    Cholesky factor ``L`` (``a = L Lᵀ``); the strict upper triangle keeps its values. Returns
    LAPACK's ``info`` (0 = success, > 0 = not positive definite).

    >>> a = np.array([[4.0, 2.0], [2.0, 5.0]], np.float32)
    >>> potrf_lower(a), np.tril(a).tolist(), float(a[0, 1])
    (0, [[2.0, 0.0], [1.0, 2.0]], 2.0)
    """
    n = ctypes.c_int(_order(a))
    info = ctypes.c_int(0)
    # to Fortran a C-ordered matrix is its transpose, whose upper triangle is our lower one
    uplo = ctypes.c_char(b"L" if a.flags.f_contiguous else b"U")
    _spotrf(_ref(uplo), _ref(n), a.ctypes.data, _ref(n), _ref(info))
    return info.value


def potrs_lower_vec(chol: np.ndarray, b: np.ndarray) -> None:
    """Solve ``L Lᵀ x = b`` in place in the contiguous float32 vector ``b``, given the lower
    factor ``L`` in the lower triangle of the Fortran-ordered ``chol`` (as
    :func:`potrf_lower` leaves it).

    >>> chol = np.asfortranarray(np.array([[2.0, 9.0], [1.0, 2.0]], np.float32))
    >>> b = np.array([4.0, 2.0], np.float32)  # (L Lᵀ) [1, 0]
    >>> potrs_lower_vec(chol, b); b.tolist()
    [1.0, 0.0]
    """
    n_ = _order(chol)
    if not chol.flags.f_contiguous:
        raise ValueError("potrs_lower_vec expects a Fortran-ordered factor")
    if b.dtype != np.float32 or b.shape != (n_,) or not b.flags.c_contiguous:
        raise ValueError(f"b must be a contiguous float32 vector of {n_}; received {b.shape}")
    n, inc = ctypes.c_int(n_), ctypes.c_int(1)
    lower, unit = ctypes.c_char(b"L"), ctypes.c_char(b"N")
    for trans in (b"N", b"T"):  # L y = b, then Lᵀ x = y
        t = ctypes.c_char(trans)
        _strsv(
            _ref(lower),
            _ref(t),
            _ref(unit),
            _ref(n),
            chol.ctypes.data,
            _ref(n),
            b.ctypes.data,
            _ref(inc),
        )


_work = threading.local()


def _syevd_work(n: int) -> tuple[np.ndarray, np.ndarray]:
    """This thread's ``ssyevd`` workspace for order ``n``, reused (fresh pages cost here)."""
    cache = _work.__dict__.setdefault("syevd", {})
    if n not in cache:
        cache.clear()
        cache[n] = (np.empty(1 + 6 * n + 2 * n * n, np.float32), np.empty(3 + 5 * n, np.int32))
    return cache[n]


def syevd(a: np.ndarray, w: np.ndarray) -> int:
    """Eigendecomposition of the symmetric C-ordered ``a`` in place: ascending eigenvalues into
    ``w``, eigenvectors into the *rows* of ``a`` (so ``a.T`` holds them as columns). Returns
    LAPACK's ``info`` (0 = success).

    >>> a = np.array([[2.0, 1.0], [1.0, 2.0]], np.float32)
    >>> w = np.empty(2, np.float32)
    >>> syevd(a, w), w.tolist(), bool(np.allclose(np.abs(a), 0.5**0.5))
    (0, [1.0, 3.0], True)
    """
    n_ = _order(a)
    if not a.flags.c_contiguous:
        raise ValueError("syevd expects a C-contiguous matrix")
    if w.dtype != np.float32 or w.shape != (n_,) or not w.flags.c_contiguous:
        raise ValueError(f"w must be a contiguous float32 vector of {n_}; received {w.shape}")
    work, iwork = _syevd_work(n_)
    n, info = ctypes.c_int(n_), ctypes.c_int(0)
    lwork, liwork = ctypes.c_int(work.size), ctypes.c_int(iwork.size)
    jobz, uplo = ctypes.c_char(b"V"), ctypes.c_char(b"L")
    _ssyevd(
        _ref(jobz),
        _ref(uplo),
        _ref(n),
        a.ctypes.data,
        _ref(n),
        w.ctypes.data,
        work.ctypes.data,
        _ref(lwork),
        iwork.ctypes.data,
        _ref(liwork),
        _ref(info),
    )
    return info.value
