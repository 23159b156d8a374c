"""Property catalogues, one module per assignment, built from the shared checks in ``common``."""
