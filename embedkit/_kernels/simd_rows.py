"""Vector operations on float32 matrix rows, written as LLVM IR (Numba intrinsics).

Numba's loops over a row of runtime length ``d`` vectorise into 64-float iterations followed
by 8-wide and scalar remainder loops: at ``d = 100`` most of the work runs in the remainders,
and every remainder is a serial chain of FMAs.  These intrinsics emit the loops themselves:
16-float vectors (one AVX-512 register, two AVX2 registers), four independent accumulators
per group of 64 floats, then single 16-float blocks, and the last ``d % 16`` floats with a
masked load/store (no scalar loop, no access past the row).

``row_dot(A, i, B, j)``
    ``A[i] . B[j]`` in float32.
``row_add_combination(D, r, c, S, m)``
    ``D[r] += c[0] S[0] + ... + c[m-1] S[m-1]``: each 16-float block of ``D[r]`` is loaded
    once, takes the ``m`` products in registers and is stored once (the update of one weight
    row by all the pairs of a window, one read and one write of the row).

Matrices must be C-contiguous float32 (a typing error otherwise); ``c`` a C-contiguous
float32 vector.  Rows are indexed without bounds checks, as the kernels' own loops are.
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
        nb, ng, rest, tail = _blocks(builder, n)
        accs = [cgutils.alloca_once(builder, _VEC) for _ in range(_U)]
        for a in accs:
            builder.store(ir.Constant(_VEC, None), a)

        def step(acc, off, mask=None):
            builder.store(_fma(builder, _load(builder, pa, off, mask),
                               _load(builder, pb, off, mask), builder.load(acc)), acc)

        with cgutils.for_range(builder, ng) as loop:
            base = builder.mul(loop.index, _const(_W * _U))
            for u in range(_U):
                step(accs[u], builder.add(base, _const(_W * u)))
        start = builder.mul(ng, _const(_W * _U))
        with cgutils.for_range(builder, rest) as loop:
            step(accs[0], builder.add(start, builder.mul(loop.index, _const(_W))))
        with builder.if_then(builder.icmp_unsigned("!=", tail, _const(0))):
            step(accs[1], builder.mul(nb, _const(_W)), _tail_mask(builder, tail))
        v01 = builder.fadd(builder.load(accs[0]), builder.load(accs[1]), flags=_FAST)
        v23 = builder.fadd(builder.load(accs[2]), builder.load(accs[3]), flags=_FAST)
        return _hsum(builder, builder.fadd(v01, v23, flags=_FAST))

    return sig, codegen


def _combine_group(builder, pd, pc, ps, sstride, m, off, nvec, mask=None):
    """``nvec`` blocks of ``D[r]`` from ``off``: load, add the ``m`` products, store."""
    offs = [builder.add(off, _const(_W * u)) for u in range(nvec)]
    accs = [cgutils.alloca_once(builder, _VEC) for _ in range(nvec)]
    for u in range(nvec):
        builder.store(_load(builder, pd, offs[u], mask), accs[u])
    with cgutils.for_range(builder, m) as loop:
        ck = _splat(builder, builder.load(builder.gep(pc, [loop.index])), _VEC)
        srow = builder.mul(loop.index, sstride)
        for u in range(nvec):
            s = _load(builder, ps, builder.add(srow, offs[u]), mask)
            builder.store(_fma(builder, ck, s, builder.load(accs[u])), accs[u])
    for u in range(nvec):
        _store(builder, builder.load(accs[u]), pd, offs[u], mask)


@intrinsic
def row_add_combination(typingctx, D, r, c, S, m):
    """``D[r] += sum_k c[k] * S[k]`` for ``k < m`` (float32, rows of equal length)."""
    _check("D", D, 2)
    _check("c", c, 1)
    _check("S", S, 2)
    sig = types.void(D, r, c, S, m)

    def codegen(context, builder, signature, args):
        ta = signature.args
        pd, n = _row(context, builder, ta[0], args[0], args[1], ta[1])
        pc = context.make_array(ta[2])(context, builder, args[2]).data
        sary = context.make_array(ta[3])(context, builder, args[3])
        sstride = builder.udiv(cgutils.unpack_tuple(builder, sary.strides)[0], _const(4))
        m = context.cast(builder, args[4], ta[4], types.int64)
        nb, ng, rest, tail = _blocks(builder, n)
        with cgutils.for_range(builder, ng) as loop:
            _combine_group(builder, pd, pc, sary.data, sstride, m,
                           builder.mul(loop.index, _const(_W * _U)), _U)
        start = builder.mul(ng, _const(_W * _U))
        with cgutils.for_range(builder, rest) as loop:
            _combine_group(builder, pd, pc, sary.data, sstride, m,
                           builder.add(start, builder.mul(loop.index, _const(_W))), 1)
        with builder.if_then(builder.icmp_unsigned("!=", tail, _const(0))):
            _combine_group(builder, pd, pc, sary.data, sstride, m,
                           builder.mul(nb, _const(_W)), 1, _tail_mask(builder, tail))
        return context.get_dummy_value()

    return sig, codegen
