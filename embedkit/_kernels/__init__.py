"""Numba kernels: plain functions over arrays, compiled with nogil, fastmath and cache."""
