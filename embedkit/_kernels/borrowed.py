"""Arrays without reference counting, for the inner loops of the word2vec kernels.

Every Numba function that receives an array takes a reference to it on entry and drops it
on exit, and so does every function inlined at the Numba level: each is an atomic
``lock inc``/``lock dec`` on the array's reference count.  A word2vec window calls a few such
helpers with half a dozen arrays each; with one thread, a sampling profile of the CBOW
kernel put about a quarter of the run in ``NRT_incref``/``NRT_decref``, and an atomic also
waits for the core's pending stores (issue 20).

:func:`borrowed` gives a view of an array with no owner (a null ``meminfo``): the same data,
shape and strides, and reference counting on it does nothing.  The caller must keep the
array itself alive for as long as the view is used: the kernels borrow their own arguments
(held by their caller for the whole call) and never return or store a borrowed view.
"""

from __future__ import annotations

from numba import types
from numba.core.errors import TypingError
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array


@intrinsic
def borrowed(typingctx, arr):
    """A view of ``arr`` that is not reference counted (see the module's docstring)."""
    if not isinstance(arr, types.Array):
        raise TypingError(f"borrowed() takes an array, got {arr}")
    sig = arr(arr)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        src = make_array(aryty)(context, builder, args[0])
        view = make_array(aryty)(context, builder)
        populate_array(view, data=src.data, shape=src.shape, strides=src.strides,
                       itemsize=src.itemsize, meminfo=None, parent=None)
        return view._getvalue()

    return sig, codegen
