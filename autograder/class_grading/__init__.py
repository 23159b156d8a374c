"""Grading a class: batches of submissions in processes of their own, the gradebook, exports (CSV,
Gradescope, nbgrader), feedback pages, the cluster, and the bundles given to Gradescope and to students.
"""
