"""Numba kernels: plain functions over arrays, one module per area, no user-facing classes."""
