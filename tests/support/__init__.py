"""Helpers for the fault, soak, hostile-input and browser tests."""
