"""The Numba compilation options every kernel module uses, in one place.

``FAST``
    Arithmetic kernels (training, search, downstream models): ``fastmath`` lets LLVM
    reorder and vectorise float reductions.
``EXACT``
    Parsing and formatting of numbers (``vectors_io``): no fastmath, so values read and
    written are bit-exact.
``WORD2VEC``
    The word2vec kernels: fastmath without ``nnan``/``ninf``, so a diverging run's NaN or Inf
    reaches the loss check instead of being assumed away.

All are ``nogil`` (worker threads run kernels in parallel), cached on disk, and use NumPy's
error model (division by zero gives inf/nan instead of raising inside a kernel).
"""

FAST = dict(nogil=True, fastmath=True, cache=True, error_model="numpy")
EXACT = dict(nogil=True, fastmath=False, cache=True, error_model="numpy")
WORD2VEC_FASTMATH = {"reassoc", "contract", "arcp", "nsz", "afn"}
WORD2VEC = dict(nogil=True, fastmath=WORD2VEC_FASTMATH, cache=True, error_model="numpy")
