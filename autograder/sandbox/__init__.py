"""The trust boundary: where student code runs, and everything that talks to it.

A worker process (:mod:`.worker`) runs student code behind the isolation of :mod:`.isolation` and
:mod:`.cgroups`; the grader starts and talks to workers through :mod:`.launcher`, over the wire format of
:mod:`.protocol`, handing them a submission's code as :mod:`.chunks`; the only code of ours a worker calls
is the trusted callables of :mod:`.callables` and :mod:`.torch_harness`, whose specs and reports are the
typed, validated records of :mod:`.harness_types`; :mod:`.locations` says where the grader's own files lie,
which no worker may see.

This package imports nothing from the rest of ``autograder`` (``tests/test_layout.py`` keeps it so):
what a worker can reach is all here, and can be read in one sitting.
"""
