"""Vector operations on float32 matrix rows, written as LLVM IR (Numba intrinsics).

Numba's loops over a row of runtime length ``d`` vectorise into 64-float iterations followed
by 8-wide and scalar remainder loops: at ``d = 100`` most of the work runs in the remainders,
and every remainder is a serial chain of FMAs.  These intrinsics emit the loops themselves:
16-float vectors (one AVX-512 register, two AVX2 registers) in groups of four with
independent accumulators, 64 floats per group; the rest of the row is its whole blocks and
one masked last block (no scalar loop, no access past the row; at ``d = 100``, a group of
four blocks, then two and a masked one of 4 floats).

``row_dot(A, i, B, j)``
    ``A[i] . B[j]`` in float32.
``row_dots(A, i, B, m, OUT, q)``
    ``OUT[q, t] = A[i] . B[t]`` for ``t < m``: up to eight dot products per pass over
    ``A[i]``, their sums reduced together.
``row_add_combination(D, r, C, q, S, m)``
    ``D[r] += C[q, 0] S[0] + ... + C[q, m-1] S[m-1]``: each 16-float block of ``D[r]`` is
    loaded once, takes the ``m`` products in registers and is stored once (the update of one
    weight row by all the pairs of a window, one read and one write of the row).
``rows_add_combination(D, R, t0, k, C, S, m)``
    The same for ``k`` (up to 3) distinct rows ``D[R[t0]] ...`` at once, sharing the loads
    of ``S``.
``row_copy(D, r, S, k)``
    ``D[r] = S[k]``.

Arrays must be C-contiguous float32 (a typing error otherwise); rows are passed as a matrix
and a row number, not as views (a view costs two atomic reference-count updates).  Rows are indexed without bounds checks, as the kernels' own loops are.
The order of the float32 additions is fixed by the row length alone, so results are
reproducible run to run.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic

_W = 16                      # floats per vector
_U = 4                       # vectors per group (independent accumulators)
_F32 = ir.FloatType()
_VEC = ir.VectorType(_F32, _W)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_MASK = ir.VectorType(ir.IntType(1), _W)
_IDX = ir.VectorType(_I32, _W)
_FAST = ("fast",)


def _check(name, arr, ndim):
    if not (isinstance(arr, types.Array) and arr.ndim == ndim and arr.layout == "C"
            and arr.dtype == types.float32):
        raise TypingError(f"{name} must be a C-contiguous float32 array with {ndim} "
                          f"dimension(s), got {arr}; pass np.ascontiguousarray(x, np.float32)")


def _const(n):
    return ir.Constant(_I64, n)


def _row(context, builder, aryty, aryval, row, rowty):
    """Pointer to ``A[row, 0]`` and the row length."""
    ary = context.make_array(aryty)(context, builder, aryval)
    r = context.cast(builder, row, rowty, types.int64)
    ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [r, _const(0)],
                                   wraparound=False)
    return ptr, cgutils.unpack_tuple(builder, ary.shape)[1]


def _vptr(builder, base, off):
    return builder.bitcast(builder.gep(base, [off]), _VEC.as_pointer())


def _load(builder, base, off, mask=None):
    p = _vptr(builder, base, off)
    if mask is None:
        return builder.load(p, align=4)
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VEC, [p.type, _I32, _MASK, _VEC]),
        "llvm.masked.load.v16f32.p0")
    return builder.call(fn, [p, ir.Constant(_I32, 4), mask, ir.Constant(_VEC, None)])


def _store(builder, val, base, off, mask=None):
    p = _vptr(builder, base, off)
    if mask is None:
        builder.store(val, p, align=4)
        return
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [_VEC, p.type, _I32, _MASK]),
        "llvm.masked.store.v16f32.p0")
    builder.call(fn, [val, p, ir.Constant(_I32, 4), mask])


def _fma(builder, a, b, c):
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VEC, [_VEC, _VEC, _VEC]), "llvm.fma.v16f32")
    return builder.call(fn, [a, b, c])


def _splat(builder, x, vecty):
    v = builder.insert_element(ir.Constant(vecty, ir.Undefined), x, ir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, ir.Constant(_IDX, None))


def _tail_mask(builder, tail):
    """Lanes ``0 .. tail-1`` on."""
    t = _splat(builder, builder.trunc(tail, _I32), _IDX)
    return builder.icmp_signed("<", ir.Constant(_IDX, list(range(_W))), t)


def _hsum(builder, v):
    """Sum of the 16 lanes, as a fixed tree of halvings."""
    n = _W
    while n > 1:
        h = n // 2
        lo = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, h), list(range(h))))
        hi = builder.shuffle_vector(v, v, ir.Constant(ir.VectorType(_I32, h),
                                                      list(range(h, n))))
        v = builder.fadd(lo, hi, flags=_FAST)
        n = h
    return builder.extract_element(v, ir.Constant(_I32, 0))


def _blocks(builder, n):
    """(full 16-float blocks, groups of _U blocks, blocks after the groups, tail floats)."""
    nb = builder.udiv(n, _const(_W))
    ng = builder.udiv(nb, _const(_U))
    rest = builder.sub(nb, builder.mul(ng, _const(_U)))
    return nb, ng, rest, builder.urem(n, _const(_W))


def _groups(builder, n):
    """(full groups of _U blocks, floats left after them)."""
    ng = builder.udiv(n, _const(_W * _U))
    return ng, builder.sub(n, builder.mul(ng, _const(_W * _U)))


def _over_groups(builder, n, body):
    """``body(offset, masks)`` over the row in groups of _U blocks.

    ``masks`` has one entry per block of the group: ``None`` for a whole block, else the
    mask of a partial one.  Full groups first; then the rest (< _W * _U floats) as its whole
    blocks and a masked last block (all lanes off when the row ends on a block boundary),
    one code path per number of whole blocks, so that only the last block is masked.
    """
    ng, rem = _groups(builder, n)
    with cgutils.for_range(builder, ng) as loop:
        body(builder.mul(loop.index, _const(_W * _U)), [None] * _U)
    off = builder.mul(ng, _const(_W * _U))
    whole = builder.udiv(rem, _const(_W))
    with builder.if_then(builder.icmp_unsigned("!=", rem, _const(0))):
        mask = _tail_mask(builder, builder.urem(rem, _const(_W)))
        for k in range(_U):
            with builder.if_then(builder.icmp_unsigned("==", whole, _const(k))):
                body(off, [None] * k + [mask])


@intrinsic
def row_dot(typingctx, A, i, B, j):
    """``A[i] . B[j]`` (float32), rows of equal length."""
    _check("A", A, 2)
    _check("B", B, 2)
    sig = types.float32(A, i, B, j)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pa, n = _row(context, builder, ta[0], args[0], args[1], ta[1])
        pb, _ = _row(context, builder, ta[2], args[2], args[3], ta[3])
        accs = [cgutils.alloca_once(builder, _VEC) for _ in range(_U)]
        for acc in accs:
            builder.store(ir.Constant(_VEC, None), acc)

        def group(off, masks):
            for u, m in enumerate(masks):
                o = builder.add(off, _const(_W * u))
                builder.store(_fma(builder, _load(builder, pa, o, m), _load(builder, pb, o, m),
                                   builder.load(accs[u])), accs[u])

        _over_groups(builder, n, group)
        v01 = builder.fadd(builder.load(accs[0]), builder.load(accs[1]), flags=_FAST)
        v23 = builder.fadd(builder.load(accs[2]), builder.load(accs[3]), flags=_FAST)
        return _hsum(builder, builder.fadd(v01, v23, flags=_FAST))

    return sig, codegen


def _combine_group(builder, pds, pcs, ps, sstride, m, off, masks):
    """The blocks from ``off`` (one per mask) of each destination row ``pds[t]``: load, add
    the ``m`` products with coefficients ``pcs[t]``, store (each block of ``S`` loaded once
    for all the destination rows)."""
    nv = len(masks)
    offs = [builder.add(off, _const(_W * u)) for u in range(nv)]
    accs = [[cgutils.alloca_once(builder, _VEC) for _ in range(nv)] for _ in pds]
    for pd, acc in zip(pds, accs):
        for u in range(nv):
            builder.store(_load(builder, pd, offs[u], masks[u]), acc[u])
    with cgutils.for_range(builder, m) as loop:
        cks = [_splat(builder, builder.load(builder.gep(pc, [loop.index])), _VEC) for pc in pcs]
        srow = builder.mul(loop.index, sstride)
        for u in range(nv):
            s = _load(builder, ps, builder.add(srow, offs[u]), masks[u])
            for ck, acc in zip(cks, accs):
                builder.store(_fma(builder, ck, s, builder.load(acc[u])), acc[u])
    for pd, acc in zip(pds, accs):
        for u in range(nv):
            _store(builder, builder.load(acc[u]), pd, offs[u], masks[u])


@intrinsic
def row_add_combination(typingctx, D, r, C, q, S, m):
    """``D[r] += sum_k C[q, k] * S[k]`` for ``k < m`` (float32, rows of ``D`` and ``S`` of
    equal length)."""
    _check("D", D, 2)
    _check("C", C, 2)
    _check("S", S, 2)
    sig = types.void(D, r, C, q, S, m)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pd, n = _row(context, builder, ta[0], args[0], args[1], ta[1])
        pc, _ = _row(context, builder, ta[2], args[2], args[3], ta[3])
        sary = context.make_array(ta[4])(context, builder, args[4])
        sstride = builder.udiv(cgutils.unpack_tuple(builder, sary.strides)[0], _const(4))
        m = context.cast(builder, args[5], ta[5], types.int64)
        _over_groups(builder, n, lambda off, masks: _combine_group(
            builder, [pd], [pc], sary.data, sstride, m, off, masks))
        return context.get_dummy_value()

    return sig, codegen


_MAX_ROWS = 3  # destination rows per call of rows_add_combination


@intrinsic
def rows_add_combination(typingctx, D, R, t0, k, C, S, m):
    """:func:`row_add_combination` of ``k`` (1 to 3) rows at once: ``D[R[t]] += sum_j
    C[t, j] S[j]`` for ``t0 <= t < t0 + k``, each block of ``S`` loaded once for all of them.

    The rows are all read before any is written, so ``R[t0:t0 + k]`` must be distinct (a row
    listed twice would lose an update); other ``k`` do nothing.
    """
    _check("D", D, 2)
    _check("C", C, 2)
    _check("S", S, 2)
    if not (isinstance(R, types.Array) and R.ndim == 1 and R.layout == "C"
            and R.dtype == types.int64):
        raise TypingError(f"R must be a C-contiguous int64 vector, got {R}; pass "
                          "np.ascontiguousarray(R, np.int64)")
    sig = types.void(D, R, t0, k, C, S, m)

    def codegen(context, builder, signature, args):
        ta = signature.args
        rary = context.make_array(ta[1])(context, builder, args[1])
        t0 = context.cast(builder, args[2], ta[2], types.int64)
        k = context.cast(builder, args[3], ta[3], types.int64)
        sary = context.make_array(ta[5])(context, builder, args[5])
        sstride = builder.udiv(cgutils.unpack_tuple(builder, sary.strides)[0], _const(4))
        m = context.cast(builder, args[6], ta[6], types.int64)
        for nk in range(1, _MAX_ROWS + 1):
            with builder.if_then(builder.icmp_unsigned("==", k, _const(nk))):
                pds, pcs, n = [], [], None
                for t in range(nk):
                    tt = builder.add(t0, _const(t))
                    r = builder.load(builder.gep(rary.data, [tt]))
                    pd, n = _row(context, builder, ta[0], args[0], r, types.int64)
                    pds.append(pd)
                    pcs.append(_row(context, builder, ta[4], args[4], tt, types.int64)[0])
                _over_groups(builder, n, lambda off, masks: _combine_group(
                    builder, pds, pcs, sary.data, sstride, m, off, masks))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def row_copy(typingctx, D, r, S, k):
    """``D[r] = S[k]`` (float32, rows of equal length)."""
    _check("D", D, 2)
    _check("S", S, 2)
    sig = types.void(D, r, S, k)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pd, n = _row(context, builder, ta[0], args[0], args[1], ta[1])
        ps, _ = _row(context, builder, ta[2], args[2], args[3], ta[3])

        def group(off, masks):
            for u, m in enumerate(masks):
                o = builder.add(off, _const(_W * u))
                _store(builder, _load(builder, ps, o, m), pd, o, m)

        _over_groups(builder, n, group)
        return context.get_dummy_value()

    return sig, codegen


def _shuffle_add(builder, a, b, first, second):
    idx = ir.VectorType(_I32, len(first))
    return builder.fadd(builder.shuffle_vector(a, b, ir.Constant(idx, first)),
                        builder.shuffle_vector(a, b, ir.Constant(idx, second)), flags=_FAST)


def _reduce(builder, vecs):
    """The lane sums of ``k`` (1, 2, 4 or 8) 16-float vectors, as one ``k``-float vector.

    A fixed tree: pairs of vectors are folded into one holding both rows at half the lanes
    each, then the last vector folds its lanes; every product is summed in the same order
    whatever the inputs.
    """
    rows, lanes = 1, _W
    while len(vecs) > 1:
        h = lanes // 2
        first = [r * lanes + k + v * _W for v in (0, 1) for r in range(rows) for k in range(h)]
        second = [x + h for x in first]
        vecs = [_shuffle_add(builder, vecs[p], vecs[p + 1], first, second)
                for p in range(0, len(vecs), 2)]
        rows, lanes = rows * 2, h
    v = vecs[0]
    while lanes > 1:
        h = lanes // 2
        first = [r * lanes + k for r in range(rows) for k in range(h)]
        v = _shuffle_add(builder, v, v, first, [x + h for x in first])
        lanes = h
    return v


def _dots_pass(builder, pa, n, bary, bstride, pout, j0, k):
    """``out[j0 + t] = a . B[j0 + t]`` for ``t < k``: one pass over the row ``a``."""
    nb = builder.udiv(n, _const(_W))
    tail = builder.urem(n, _const(_W))
    rows = [builder.gep(bary.data, [builder.mul(builder.add(j0, _const(t)), bstride)])
            for t in range(k)]
    accs = [cgutils.alloca_once(builder, _VEC) for _ in range(k)]
    for acc in accs:
        builder.store(ir.Constant(_VEC, None), acc)

    def block(off, mask):
        a = _load(builder, pa, off, mask)
        for t in range(k):
            builder.store(_fma(builder, a, _load(builder, rows[t], off, mask),
                               builder.load(accs[t])), accs[t])

    with cgutils.for_range(builder, nb) as loop:
        block(builder.mul(loop.index, _const(_W)), None)
    with builder.if_then(builder.icmp_unsigned("!=", tail, _const(0))):
        block(builder.mul(nb, _const(_W)), _tail_mask(builder, tail))
    sums = _reduce(builder, [builder.load(acc) for acc in accs])
    ptr = builder.gep(pout, [j0])
    if k == 1:
        builder.store(builder.extract_element(sums, ir.Constant(_I32, 0)), ptr)
    else:
        builder.store(sums, builder.bitcast(ptr, ir.VectorType(_F32, k).as_pointer()), align=4)


@intrinsic
def row_dots(typingctx, A, i, B, m, OUT, q):
    """``OUT[q, t] = A[i] . B[t]`` for ``t < m`` (float32).

    Passes over ``A[i]`` with 8 rows of ``B`` each, then 4, 2 and 1 for the rest (6 = 4 + 2):
    each block of ``A[i]`` is loaded once per pass and the pass's sums are reduced together.
    """
    _check("A", A, 2)
    _check("B", B, 2)
    _check("OUT", OUT, 2)
    sig = types.void(A, i, B, m, OUT, q)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pa, n = _row(context, builder, ta[0], args[0], args[1], ta[1])
        bary = context.make_array(ta[2])(context, builder, args[2])
        bstride = builder.udiv(cgutils.unpack_tuple(builder, bary.strides)[0], _const(4))
        pout, _ = _row(context, builder, ta[4], args[4], args[5], ta[5])
        m = context.cast(builder, args[3], ta[3], types.int64)
        n8 = builder.udiv(m, _const(8))
        with cgutils.for_range(builder, n8) as loop:
            _dots_pass(builder, pa, n, bary, bstride, pout,
                       builder.mul(loop.index, _const(8)), 8)
        j0 = cgutils.alloca_once_value(builder, builder.mul(n8, _const(8)))
        for k in (4, 2, 1):
            has = builder.icmp_unsigned("!=", builder.and_(m, _const(k)), _const(0))
            with builder.if_then(has):
                start = builder.load(j0)
                _dots_pass(builder, pa, n, bary, bstride, pout, start, k)
                builder.store(builder.add(start, _const(k)), j0)
        return context.get_dummy_value()

    return sig, codegen
