"""The operator page (/operator on the web server): how the assistant is doing, from the
tracker store's turn summaries (`store.py`) and the referral log."""
