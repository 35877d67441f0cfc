"""Compiled pivot loop of the blocked Gittins elimination (numba), seed 004 eq. (3).

:func:`pivot_block` is the in-block part of
:func:`specmarket.mechanisms.adaptive.gittins._eliminate_blocked`: ``nb`` consecutive
largest-remaining-index pivots, each reading the current column and row of its pivot from the
deferred rank-``t`` updates (left-looking), as the numpy loop
:func:`specmarket.mechanisms.adaptive.gittins._pivot_block_py` (its tested twin) does. Compiled,
the thousand pivots of an ``n = 1000`` chain cost a few milliseconds instead of the ~20 ms of
numpy call overhead of the twin (about fifteen small array operations per pivot).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Where (and whether) compiled kernels may be cached: a read-only install or HOME falls back.
from specmarket._numba_cache import CACHE


@njit(cache=CACHE)
def pivot_block(full, m, rcd, act, index, ut, w, alive, nb):  # type: ignore[no-untyped-def]
    """Eliminate ``nb`` pivots of the active block ``full[:m, :m]`` (left unchanged).

    ``rcd[:, :m]`` (reward, discounted time, exit mass) is updated in place, ``index[act[z]]``
    receives each pivot's index, ``ut[t, :m]`` / ``w[t, :m]`` the pivot's scaled column / row and
    ``alive[z] = 0`` marks it eliminated. All arrays are whole C-contiguous buffers (sliced here,
    not by the caller, so that numba sees unit strides and vectorises the inner loops).
    """
    col = np.empty(m)
    row = np.empty(m)
    for t in range(nb):
        z = 0
        best = -np.inf
        for x in range(m):
            v = rcd[0, x] / rcd[1, x]
            if v > best:
                best = v
                z = x
        index[act[z]] = best
        for x in range(m):
            col[x] = full[x, z]
        row[:] = full[z, :m]
        for s in range(t):
            wz = w[s, z]
            uz = ut[s, z]
            ut_s = ut[s, :m]
            w_s = w[s, :m]
            for x in range(m):
                col[x] += wz * ut_s[x]
                row[x] += uz * w_s[x]
        alive[z] = 0.0
        denom = rcd[2, z]
        for x in range(m):
            col[x] *= alive[x]
            row[x] *= alive[x]
            denom += row[x]
        r_z = rcd[0, z]
        c_z = rcd[1, z]
        d_z = rcd[2, z]
        for x in range(m):
            f = col[x] / denom
            rcd[0, x] += r_z * f
            rcd[1, x] += c_z * f
            rcd[2, x] += d_z * f
            ut[t, x] = f
            w[t, x] = row[x]
        rcd[0, z] = -np.inf
