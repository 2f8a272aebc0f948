"""Rasa input channels adapted for this assistant (referenced by module path in credentials.yml)."""
