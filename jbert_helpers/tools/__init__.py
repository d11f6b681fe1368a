"""The teachers' and CI's tools around the lessons: the ``jbert`` command (one module per subcommand).

* :mod:`~jbert_helpers.tools.doctor` — ``jbert doctor``: will the lessons run here, and what to type if not;
* :mod:`~jbert_helpers.tools.prefetch` — ``jbert prefetch``: put the real model (or the stand-in) in place;
* :mod:`~jbert_helpers.tools.refresh` — ``jbert refresh``: run notebooks and store their outputs;
* :mod:`~jbert_helpers.tools.kernelenv` — the environment every notebook kernel runs under;
* :mod:`~jbert_helpers.tools.cli` — the command line that dispatches to them.

Lessons never import from here; what they use is exported by :mod:`jbert_helpers` itself.
"""
