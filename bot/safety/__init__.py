"""Crisis safety: detecting disclosures and choosing the right services."""

from bot.safety.detector import CrisisDetection, CrisisDetector, get_detector

__all__ = ["CrisisDetection", "CrisisDetector", "get_detector"]
