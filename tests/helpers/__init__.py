"""Helpers shared by the test modules (factories, references); no tests here."""
