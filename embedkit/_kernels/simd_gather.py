"""Vector operations on float32 rows picked by an index list, written as LLVM IR.

The companions of :mod:`embedkit._kernels.simd_rows` (same 16-float vectors, groups of four
independent blocks and a masked tail instead of Numba's 64-, 8- and 1-float remainder loops)
for the CBOW kernel, whose window reads and writes the rows of its context words wherever
they lie in the input matrix:

``rows_mean(H, r, A, idx, m)``
    ``H[r] = (A[idx[0]] + ... + A[idx[m-1]]) * (1 / m)``, the rows added in index order
    (the sums of the plain loop ``h += A[idx[k]]`` from zero, bit for bit).
``rows_add_row(A, idx, m, E, r)``
    ``A[idx[k]] += E[r]`` for ``k < m``, in index order (a row listed twice takes it twice).
``row_error_update(E, r, W, j, H, q, g)``
    ``E[r] += g W[j]`` and then ``W[j] += g H[q]``, one pass over ``W[j]`` (the error of a
    hidden vector from an output row as it was, and the row's update).
``rows_error_update(E, r, W, idx, m, H, q, G)``
    :func:`row_error_update` for every listed output row in order, from ``E[r] = 0``, the
    error held in registers across the rows (the window's whole output step in one call).

``m >= 1``; matrices C-contiguous float32 of one row length, ``idx`` C-contiguous int64;
rows are indexed without bounds checks, as the kernels' own loops are.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

from embedkit._kernels.simd_rows import (_F32, _FAST, _U, _VEC, _W, _blocks, _check, _const,
                                         _fma, _load, _row, _splat, _store, _tail_mask)


def _check_idx(idx):
    if not (isinstance(idx, types.Array) and idx.ndim == 1 and idx.layout == "C"
            and idx.dtype == types.int64):
        raise TypingError(f"idx must be a C-contiguous int64 vector, got {idx}; pass "
                          "np.ascontiguousarray(idx, np.int64)")


def _rows(context, builder, aryty, aryval):
    """Data pointer and row stride (in floats) of a 2-D float32 matrix."""
    ary = context.make_array(aryty)(context, builder, aryval)
    stride = builder.udiv(cgutils.unpack_tuple(builder, ary.strides)[0], _const(4))
    return ary.data, stride


def _row_and_listed_rows(context, builder, ta, args):
    """The first five arguments ``(H, r, A, idx, m)`` of an intrinsic: pointer to ``H[r]``
    and the row length, ``A``'s data pointer and row stride, ``idx``'s data pointer, ``m``."""
    ph, n = _row(context, builder, ta[0], args[0], args[1], ta[1])
    pa, stride = _rows(context, builder, ta[2], args[2])
    pidx = context.make_array(ta[3])(context, builder, args[3]).data
    m = context.cast(builder, args[4], ta[4], types.int64)
    return ph, n, pa, stride, pidx, m


def _row_start(builder, stride, pidx, k):
    """Offset (in floats) of row ``idx[k]`` from ``A[0, 0]``."""
    return builder.mul(builder.load(builder.gep(pidx, [k])), stride)


def _over_blocks(builder, n, body):
    """Call ``body(off, nvec, mask)`` on groups of ``_U`` blocks, single blocks, the tail."""
    nb, ng, rest, tail = _blocks(builder, n)
    with cgutils.for_range(builder, ng) as loop:
        body(builder.mul(loop.index, _const(_W * _U)), _U, None)
    start = builder.mul(ng, _const(_W * _U))
    with cgutils.for_range(builder, rest) as loop:
        body(builder.add(start, builder.mul(loop.index, _const(_W))), 1, None)
    with builder.if_then(builder.icmp_unsigned("!=", tail, _const(0))):
        body(builder.mul(nb, _const(_W)), 1, _tail_mask(builder, tail))


@intrinsic
def rows_mean(typingctx, H, r, A, idx, m):
    """``H[r] = mean(A[idx[:m]])`` (float32; rows added in index order, then scaled)."""
    _check("H", H, 2)
    _check("A", A, 2)
    _check_idx(idx)
    sig = types.void(H, r, A, idx, m)

    def codegen(context, builder, signature, args):
        ta = signature.args
        ph, n, pa, stride, pidx, m = _row_and_listed_rows(context, builder, ta, args)
        inv = builder.fdiv(ir.Constant(_F32, 1.0), builder.sitofp(m, _F32))
        vinv = _splat(builder, inv, _VEC)

        def body(off, nvec, mask):
            offs = [builder.add(off, _const(_W * u)) for u in range(nvec)]
            row0 = _row_start(builder, stride, pidx, _const(0))
            accs = [cgutils.alloca_once(builder, _VEC) for _ in range(nvec)]
            for u in range(nvec):
                builder.store(_load(builder, pa, builder.add(row0, offs[u]), mask), accs[u])
            with cgutils.for_range(builder, builder.sub(m, _const(1))) as loop:
                rk = _row_start(builder, stride, pidx, builder.add(loop.index, _const(1)))
                for u in range(nvec):
                    v = _load(builder, pa, builder.add(rk, offs[u]), mask)
                    builder.store(builder.fadd(builder.load(accs[u]), v, flags=_FAST),
                                  accs[u])
            for u in range(nvec):
                _store(builder, builder.fmul(builder.load(accs[u]), vinv, flags=_FAST), ph,
                       offs[u], mask)

        _over_blocks(builder, n, body)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def rows_add_row(typingctx, A, idx, m, E, r):
    """``A[idx[k]] += E[r]`` for ``k < m`` (float32, in index order)."""
    _check("A", A, 2)
    _check_idx(idx)
    _check("E", E, 2)
    sig = types.void(A, idx, m, E, r)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pa, stride = _rows(context, builder, ta[0], args[0])
        pidx = context.make_array(ta[1])(context, builder, args[1]).data
        m = context.cast(builder, args[2], ta[2], types.int64)
        pe, n = _row(context, builder, ta[3], args[3], args[4], ta[4])

        def body(off, nvec, mask):
            offs = [builder.add(off, _const(_W * u)) for u in range(nvec)]
            ev = [_load(builder, pe, offs[u], mask) for u in range(nvec)]
            with cgutils.for_range(builder, m) as loop:
                rk = _row_start(builder, stride, pidx, loop.index)
                for u in range(nvec):
                    o = builder.add(rk, offs[u])
                    _store(builder, builder.fadd(_load(builder, pa, o, mask), ev[u],
                                                 flags=_FAST), pa, o, mask)

        _over_blocks(builder, n, body)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def row_error_update(typingctx, E, r, W, j, H, q, g):
    """``E[r] += g W[j]``, then ``W[j] += g H[q]``: one pass over ``W[j]`` (float32)."""
    _check("E", E, 2)
    _check("W", W, 2)
    _check("H", H, 2)
    sig = types.void(E, r, W, j, H, q, types.float32)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pe, n = _row(context, builder, ta[0], args[0], args[1], ta[1])
        pw, _ = _row(context, builder, ta[2], args[2], args[3], ta[3])
        ph, _ = _row(context, builder, ta[4], args[4], args[5], ta[5])
        vg = _splat(builder, context.cast(builder, args[6], ta[6], types.float32), _VEC)

        def body(off, nvec, mask):
            for u in range(nvec):
                o = builder.add(off, _const(_W * u))
                w = _load(builder, pw, o, mask)
                _store(builder, _fma(builder, vg, w, _load(builder, pe, o, mask)), pe, o, mask)
                _store(builder, _fma(builder, vg, _load(builder, ph, o, mask), w), pw, o, mask)

        _over_blocks(builder, n, body)
        return context.get_dummy_value()

    return sig, codegen



@intrinsic
def rows_error_update(typingctx, E, r, W, idx, m, H, q, G):
    """``E[r] = sum_j G[j] W[idx[j]]`` with each ``W[idx[j]] += G[j] H[q]`` after its term,
    for ``j < m`` in order: :func:`row_error_update` on a zeroed ``E[r]`` for every listed
    row, with the error kept in registers (float32; ``E`` and ``H`` must not share memory
    with ``W``)."""
    _check("E", E, 2)
    _check("W", W, 2)
    _check_idx(idx)
    _check("H", H, 2)
    if not (isinstance(G, types.Array) and G.ndim == 1 and G.layout == "C"
            and G.dtype == types.float32):
        raise TypingError(f"G must be a C-contiguous float32 vector, got {G}")
    sig = types.void(E, r, W, idx, m, H, q, G)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pe, n, pw, stride, pidx, m = _row_and_listed_rows(context, builder, ta, args)
        ph, _ = _row(context, builder, ta[5], args[5], args[6], ta[6])
        pg = context.make_array(ta[7])(context, builder, args[7]).data

        def body(off, nvec, mask):
            offs = [builder.add(off, _const(_W * u)) for u in range(nvec)]
            hs = [_load(builder, ph, offs[u], mask) for u in range(nvec)]
            accs = [cgutils.alloca_once(builder, _VEC) for _ in range(nvec)]
            for u in range(nvec):
                builder.store(ir.Constant(_VEC, None), accs[u])
            with cgutils.for_range(builder, m) as loop:
                rk = _row_start(builder, stride, pidx, loop.index)
                vg = _splat(builder, builder.load(builder.gep(pg, [loop.index])), _VEC)
                for u in range(nvec):
                    o = builder.add(rk, offs[u])
                    w = _load(builder, pw, o, mask)
                    builder.store(_fma(builder, vg, w, builder.load(accs[u])), accs[u])
                    _store(builder, _fma(builder, vg, hs[u], w), pw, o, mask)
            for u in range(nvec):
                _store(builder, builder.load(accs[u]), pe, offs[u], mask)

        _over_blocks(builder, n, body)
        return context.get_dummy_value()

    return sig, codegen
