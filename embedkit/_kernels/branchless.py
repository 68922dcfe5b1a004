"""A selection that stays branch-free in the compiled code.

``a if cond else b`` in a Numba kernel becomes a conditional branch, or a ``select`` that LLVM
may turn back into one when one side is a load it can move under the branch.  When the
condition is a coin flip, as the alias draw of a negative sample is for many words, half of
those branches are mispredicted, and each misprediction throws away the work issued after
it.  :func:`select` emits an LLVM ``select`` marked ``!unpredictable``, which the backend
keeps as a conditional move: both values are computed, nothing is predicted.
"""

from __future__ import annotations

from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba import types


@intrinsic
def select(typingctx, cond, a, b):
    """``a if cond else b`` as a conditional move (``a`` and ``b`` of one type)."""
    if not isinstance(cond, types.Boolean) or a != b:
        raise TypingError(f"select(cond, a, b) takes a boolean and two values of one type, "
                          f"got {cond}, {a}, {b}")
    sig = a(cond, a, b)

    def codegen(context, builder, signature, args):
        c, x, y = args
        chosen = builder.select(c, x, y)
        chosen.set_metadata("unpredictable", builder.module.add_metadata([]))
        return chosen

    return sig, codegen
