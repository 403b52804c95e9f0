"""The manifest JSON Schema, shipped inside the wheel as package data."""
