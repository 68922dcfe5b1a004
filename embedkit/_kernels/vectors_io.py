"""Numba kernels that parse and format word-vector files over raw bytes.

The readers work on one chunk of the file at a time: they parse every complete record in
``buf[pos:n]``, write the numbers straight into the preallocated matrix and the word bytes
(each followed by a NUL) into ``wbuf``, and return where they stopped, so peak memory stays
near the size of the matrix.  Errors are returned as a status code plus byte positions; the
Python caller turns them into messages.
"""

from __future__ import annotations

import numba
import numpy as np

# status codes shared with embedkit.vectors.text / binary
OK_NEED_MORE = 0      # consumed every complete record; read more input
OK_ROWS_FULL = 1      # the matrix (or the limit) is full
ERR_TOO_FEW = 2       # a = numbers found
ERR_TOO_MANY = 3      # a = numbers found
ERR_NOT_NUMBER = 4    # a, b = token start, end in buf
ERR_NONFINITE = 5     # a, b = token start, end in buf
ERR_TRUNCATED = 7     # a = offset in buf where the record starts
ERR_WORD_TOO_LONG = 8  # a = offset in buf where the word starts
ERR_BIN_NONFINITE = 9  # a = offset in buf of the record

_POW10 = np.array([10.0 ** i for i in range(23)], dtype=np.float64)
_MAX_WORD = 1 << 16

# fastmath stays off here (unlike the training kernels): parsing and formatting must be
# exact to the last bit, and fastmath may reassociate or flush denormals.
from embedkit._kernels._options import EXACT as _JIT  # noqa: E402


@numba.njit(**_JIT)
def _is_space(c):
    return c == 32 or c == 9 or c == 13 or c == 11 or c == 12


@numba.njit(**_JIT)
def find_byte(buf, start, n, byte):
    """Offset of the first ``byte`` in ``buf[start:n]``, or ``n``."""
    for i in range(start, n):
        if buf[i] == byte:
            return i
    return n


@numba.njit(**_JIT)
def has_content(buf, n):
    """Whether ``buf[:n]`` holds anything but whitespace."""
    for i in range(n):
        c = buf[i]
        if not (c == 32 or c == 10 or c == 13 or c == 9 or c == 11 or c == 12):
            return True
    return False


@numba.njit(inline="always", **_JIT)
def _scan_decimal(buf, i, e):
    """Read the digits and optional fraction of a decimal number from ``buf[i:e]``.

    Returns ``(mant, exp10, digits, i)``: the value is ``mant * 10**exp10`` (at most 18
    significant digits kept, so ``mant`` fits int64), ``digits`` counts the digits seen
    and ``i`` is where reading stopped.
    """
    # int64 throughout: mixing uint64 with int64 makes Numba fall back to float64 maths
    mant = 0
    nd = 0          # significant digits kept in mant
    exp10 = 0
    digits = 0
    while i < e:
        d = np.int64(buf[i]) - 48
        if d < 0 or d > 9:
            break
        digits += 1
        if nd < 18:
            if mant != 0 or d != 0:
                mant = mant * 10 + d
                nd += 1
        else:
            exp10 += 1
        i += 1
    if i < e and buf[i] == 46:  # .
        i += 1
        while i < e:
            d = np.int64(buf[i]) - 48
            if d < 0 or d > 9:
                break
            digits += 1
            if nd < 18:
                if mant != 0 or d != 0:
                    mant = mant * 10 + d
                    nd += 1
                exp10 -= 1
            i += 1
    return mant, exp10, digits, i


@numba.njit(inline="always", **_JIT)
def _scan_exponent(buf, i, e):
    """Read an exponent's optional sign and digits from ``buf[i:e]`` (just after the 'e').

    Returns ``(value, digits, i)``; ``digits`` is 0 when no digit follows.
    """
    neg = False
    if i < e and (buf[i] == 45 or buf[i] == 43):
        neg = buf[i] == 45
        i += 1
    ev = 0
    ed = 0
    while i < e:
        d = np.int64(buf[i]) - 48
        if d < 0 or d > 9:
            break
        if ev < 100000:
            ev = ev * 10 + d
        ed += 1
        i += 1
    return (-ev if neg else ev), ed, i


@numba.njit(**_JIT)
def parse_float(buf, s, e):
    """Parse the decimal number in ``buf[s:e]``.

    Returns ``(value, status)``: status 0 ok, 1 not a number, 2 NaN/inf (spelled out or
    overflowing float32).
    """
    i = s
    neg = False
    if i < e and (buf[i] == 45 or buf[i] == 43):  # - +
        neg = buf[i] == 45
        i += 1
    if i < e:
        c = buf[i] | 32
        if c == 110 or c == 105:  # n(an), i(nf)
            # accept nan / inf / infinity in any case as "non-finite"
            word_ok = True
            for j in range(i, e):
                cj = buf[j] | 32
                if not (cj == 110 or cj == 97 or cj == 105 or cj == 102 or cj == 116 or cj == 121):
                    word_ok = False
            return 0.0, (2 if word_ok else 1)
    mant, exp10, digits, i = _scan_decimal(buf, i, e)
    if digits == 0:
        return 0.0, 1
    if i < e and (buf[i] | 32) == 101:  # e E
        ev, ed, i = _scan_exponent(buf, i + 1, e)
        if ed == 0:
            return 0.0, 1
        exp10 += ev
    if i != e:
        return 0.0, 1
    v = _scale(mant, exp10)
    if neg:
        v = -v
    if not np.isfinite(np.float32(v)):
        return 0.0, 2
    return v, 0


@numba.njit(**_JIT)
def _scale(mant, exp10):
    v = np.float64(mant)
    if mant == 0:
        return 0.0
    if exp10 >= 0:
        if exp10 <= 22:
            return v * _POW10[exp10]
        if exp10 > 330:
            return np.inf
        return v * 10.0 ** exp10
    if exp10 >= -22:
        return v / _POW10[-exp10]
    if exp10 < -400:
        return 0.0
    return v / 10.0 ** (-exp10)


@numba.njit(**_JIT)
def _parse_line_fast(buf, ls, le, dim, out, row):
    """Fast path for a plain line "word n1 ... ndim": one left-to-right pass.

    Returns the end of the word, or -1 when the line needs the careful (slow) path:
    anything unusual (word with spaces, wrong count, bad or non-finite number).
    """
    i = ls
    while i < le and buf[i] != 32 and buf[i] != 9:
        i += 1
    we = i
    for k in range(dim):
        while i < le and (buf[i] == 32 or buf[i] == 9):
            i += 1
        if i >= le:
            return -1
        neg = False
        c = buf[i]
        if c == 45 or c == 43:
            neg = c == 45
            i += 1
        mant, exp10, digits, i = _scan_decimal(buf, i, le)
        if digits == 0:
            return -1
        if i < le and (buf[i] | 32) == 101:
            ev, ed, i = _scan_exponent(buf, i + 1, le)
            if ed == 0:
                return -1
            exp10 += ev
        if i < le and buf[i] != 32 and buf[i] != 9:
            return -1
        v = _scale(mant, exp10)
        f = np.float32(-v if neg else v)
        if not np.isfinite(f):
            return -1
        out[row, k] = f
    if i < le:  # trailing tokens: too many numbers, or a word with spaces
        return -1
    return we


@numba.njit(**_JIT)
def parse_text_chunk(buf, n, pos, final, dim, out, row, max_rows, wbuf, wpos):
    """Parse complete lines of ``buf[pos:n]`` ("word v1 ... vdim") into ``out[row:]``.

    The numbers are split off the right end of the line, so a word may contain spaces.
    Returns ``(status, pos, row, wpos, lines, a, b)``: ``lines`` counts the lines consumed
    (blank lines included), and on an error ``pos`` is the start of the offending line.
    """
    lines = 0
    while pos < n:
        # find the end of the line
        nl = pos
        while nl < n and buf[nl] != 10:
            nl += 1
        if nl >= n and not final:
            return OK_NEED_MORE, pos, row, wpos, lines, 0, 0
        ls = pos
        le = nl
        while le > ls and _is_space(buf[le - 1]):
            le -= 1
        first = ls
        while first < le and _is_space(buf[first]):
            first += 1
        if le == first:  # blank line
            pos = nl + 1
            lines += 1
            continue
        # ls stays at the line's start: a line " v1 ... vdim" (a leading space) is the
        # empty word, as gensim writes it; other leading whitespace is trimmed off the word
        if row >= max_rows:
            return OK_ROWS_FULL, pos, row, wpos, lines, 0, 0
        we = _parse_line_fast(buf, ls, le, dim, out, row)
        if we >= 0 and we - ls <= _MAX_WORD:
            for t in range(ls, we):
                wbuf[wpos] = buf[t]
                wpos += 1
            wbuf[wpos] = 0
            wpos += 1
            row += 1
            lines += 1
            pos = nl + 1
            continue
        j = le
        for k in range(dim - 1, -1, -1):
            while j > ls and _is_space(buf[j - 1]):
                j -= 1
            te = j
            while j > ls and not _is_space(buf[j - 1]):
                j -= 1
            ts = j
            if ts == ls:  # the leftmost token is the word: too few numbers
                return ERR_TOO_FEW, pos, row, wpos, lines, dim - 1 - k, 0
            val, st = parse_float(buf, ts, te)
            if st == 1:
                return ERR_NOT_NUMBER, pos, row, wpos, lines, ts, te
            if st == 2:
                return ERR_NONFINITE, pos, row, wpos, lines, ts, te
            out[row, k] = val
        we = j
        while we > ls and _is_space(buf[we - 1]):
            we -= 1
        while ls < we and _is_space(buf[ls]):
            ls += 1
        # a word with spaces whose last part is a number means too many numbers
        extra = 0
        q = we
        while True:
            ts2 = q
            while ts2 > ls and not _is_space(buf[ts2 - 1]):
                ts2 -= 1
            if ts2 == ls:
                break
            val, st = parse_float(buf, ts2, q)
            if st == 1:
                break
            extra += 1
            q = ts2
            while q > ls and _is_space(buf[q - 1]):
                q -= 1
        if extra > 0:
            return ERR_TOO_MANY, pos, row, wpos, lines, dim + extra, 0
        if we - ls > _MAX_WORD:
            return ERR_WORD_TOO_LONG, pos, row, wpos, lines, ls, 0
        for t in range(ls, we):
            wbuf[wpos] = buf[t]
            wpos += 1
        wbuf[wpos] = 0
        wpos += 1
        row += 1
        lines += 1
        pos = nl + 1
    return OK_NEED_MORE, pos, row, wpos, lines, 0, 0


@numba.njit(**_JIT)
def parse_binary_chunk(buf, n, pos, final, dim, out_bytes, out, row, max_rows, wbuf, wpos):
    """Parse complete word2vec binary records ("word" SP dim*float32 [LF]) of ``buf[pos:n]``.

    ``out_bytes`` is ``out`` viewed as uint8 of shape ``(rows, 4 * dim)``.
    Returns ``(status, pos, row, wpos, a)``; on an error ``a`` is the offset of the
    offending record (for NaN/inf, ``pos`` is already past it).
    """
    rec = 4 * dim
    while True:
        while pos < n and (buf[pos] == 10 or buf[pos] == 13):
            pos += 1
        if pos >= n:
            return OK_NEED_MORE, pos, row, wpos, 0
        if row >= max_rows:
            return OK_ROWS_FULL, pos, row, wpos, 0
        sp = pos
        while sp < n and buf[sp] != 32:
            sp += 1
            if sp - pos > _MAX_WORD:
                return ERR_WORD_TOO_LONG, pos, row, wpos, pos
        if sp >= n or sp + 1 + rec > n:
            if final:
                return ERR_TRUNCATED, pos, row, wpos, pos
            return OK_NEED_MORE, pos, row, wpos, 0
        src = sp + 1
        out_bytes[row, :] = buf[src:src + rec]
        for t in range(dim):
            if not np.isfinite(out[row, t]):
                # skip the record (pos moves past it) so a validator can go on
                return ERR_BIN_NONFINITE, src + rec, row, wpos, pos
        for t in range(pos, sp):
            wbuf[wpos] = buf[t]
            wpos += 1
        wbuf[wpos] = 0
        wpos += 1
        row += 1
        pos = src + rec


@numba.njit(**_JIT)
def _times_pow10(x, k):
    """``x * 10**k`` (a division for negative ``k``, exact powers from a table)."""
    if 0 <= k <= 22:
        return x * _POW10[k]
    if -22 <= k < 0:
        return x / _POW10[-k]
    if k > 0:
        return x * 10.0 ** k
    return x / 10.0 ** (-k)


@numba.njit(**_JIT)
def _emit_uint(out, o, m, nd):
    for t in range(nd - 1, -1, -1):
        out[o + t] = 48 + m % 10
        m //= 10
    return o + nd


@numba.njit(**_JIT)
def format_float32(x, precision, out, o):
    """Write float32 ``x`` as text into ``out[o:]``; return the new offset.

    ``precision`` > 0: that many significant digits.  ``precision`` == 0: the fewest
    digits (6 to 9) that read back to exactly ``x``.  Trailing zeros are dropped;
    exponent notation outside 1e-5 <= |x| < 1e9, like Python's ``repr``.  ``-0.0`` is
    written ``-0``; a value is never rounded beyond float32's range (toward zero instead).
    """
    xd = np.float64(x)
    if xd == 0.0:
        if np.signbit(xd):  # -0.0 keeps its sign: round trips are bit-exact
            out[o] = 45
            o += 1
        out[o] = 48
        return o + 1
    if xd < 0:
        out[o] = 45
        o += 1
        xd = -xd
    p_lo = 6 if precision == 0 else precision
    p_hi = 9 if precision == 0 else precision
    target = np.float32(xd)
    e = int(np.floor(np.log10(xd)))
    m = np.int64(0)
    p = p_lo
    while True:
        k = e - p + 1
        m = np.int64(np.rint(_times_pow10(xd, -k)))
        lim = np.int64(1)
        for _ in range(p):
            lim *= 10
        if m >= lim:  # rounding carried into a new digit (or log10 was off by one)
            e += 1
            continue
        if m < lim // 10:
            e -= 1
            continue
        back = np.float32(_times_pow10(np.float64(m), k))
        if not np.isfinite(back):
            # rounding up passed float32's largest value (3.4028235e38 at 4 digits would be
            # 3.403e38, which reads back as infinity): round toward zero instead
            m -= 1
            break
        if back == target or p >= p_hi:
            break
        p += 1
    nd = p
    while nd > 1 and m % 10 == 0:
        m //= 10
        nd -= 1
    if -5 <= e < 9:
        if e >= 0:
            if nd <= e + 1:
                o = _emit_uint(out, o, m, nd)
                for _ in range(e + 1 - nd):
                    out[o] = 48
                    o += 1
            else:
                div = np.int64(1)
                for _ in range(nd - e - 1):
                    div *= 10
                o = _emit_uint(out, o, m // div, e + 1)
                out[o] = 46
                o = _emit_uint(out, o + 1, m % div, nd - e - 1)
        else:
            out[o] = 48
            out[o + 1] = 46
            o += 2
            for _ in range(-e - 1):
                out[o] = 48
                o += 1
            o = _emit_uint(out, o, m, nd)
    else:
        div = np.int64(1)
        for _ in range(nd - 1):
            div *= 10
        o = _emit_uint(out, o, m // div, 1)
        if nd > 1:
            out[o] = 46
            o = _emit_uint(out, o + 1, m % div, nd - 1)
        out[o] = 101
        o += 1
        ee = e
        if ee < 0:
            out[o] = 45
            ee = -ee
        else:
            out[o] = 43
        o += 1
        ne = 2 if ee < 100 else 3
        o = _emit_uint(out, o, ee, ne)
    return o


@numba.njit(**_JIT)
def format_text_rows(words, word_starts, vectors, precision, glove_style, out):
    """Write rows as text lines into ``out``; return the number of bytes written.

    ``words`` holds the UTF-8 words back to back, word ``i`` at
    ``words[word_starts[i]:word_starts[i + 1]]``.  word2vec.c style (``glove_style`` False)
    is ``word SP v1 SP ... vn SP LF``; GloVe style is ``word SP v1 ... SP vn LF``.
    ``out`` must hold at least ``len(words) + rows * (dim * 17 + 2)`` bytes (the longest
    value is " -0.0000" plus 9 digits).
    """
    o = 0
    for i in range(vectors.shape[0]):
        for t in range(word_starts[i], word_starts[i + 1]):
            out[o] = words[t]
            o += 1
        for k in range(vectors.shape[1]):
            out[o] = 32
            o = format_float32(vectors[i, k], precision, out, o + 1)
        if not glove_style:
            out[o] = 32
            o += 1
        out[o] = 10
        o += 1
    return o


@numba.njit(**_JIT)
def compact_rows(matrix, keep):
    """Move rows ``keep`` (increasing) to the top of ``matrix``, in place."""
    for r in range(keep.shape[0]):
        src = keep[r]
        if src != r:
            for k in range(matrix.shape[1]):
                matrix[r, k] = matrix[src, k]
