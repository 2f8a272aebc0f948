"""Crisis safety: detecting disclosures (detector.py) and choosing the right services (referral.py)."""
