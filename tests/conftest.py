"""Shared fixtures. Keep additions small and each under its own heading comment."""

from __future__ import annotations
