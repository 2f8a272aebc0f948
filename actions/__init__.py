"""The action server: thin actions that call into the `bot` package."""
