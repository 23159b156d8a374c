"""What the course notebooks import: data sets, plots and helpers that are not the lesson."""
