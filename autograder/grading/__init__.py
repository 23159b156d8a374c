"""Grading one submission: the catalogue a submission is graded against, the runner that checks each
property in sandboxed workers, the checks and timing it applies, the example bank, and the report.

Imports the sandbox, never the exercises (catalogues are handed in as :class:`.catalogue.Assignment`
objects) nor the class-grading tools.
"""
