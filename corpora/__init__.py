"""Corpora that ship with embedkit or that it can download (installed as ``embedkit.corpora``)."""
