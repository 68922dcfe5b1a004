"""Evaluation datasets: analogy and word-similarity sets (installed as ``embedkit.evaluations``)."""
