"""The trust-issues assistant: knowledge, safety, NLU components and channels."""
