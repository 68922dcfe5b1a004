"""Downstream models."""
