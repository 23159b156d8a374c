"""A property-based autograder for the course's assignments (its contract: docs/GRADING.md)."""

__version__ = "0.1.0"
