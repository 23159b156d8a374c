"""A property-based autograder for the course's assignments (see GRADING.md for its contract)."""

__version__ = "0.1.0"
