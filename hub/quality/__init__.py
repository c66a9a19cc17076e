"""Data quality on the staged (pseudonymised) view of each extract, with Great Expectations.

``suites`` generates GX suites from agreements (``rules``) and merges hand-written ``extras``;
``validate`` runs a suite on a staged extract batch by batch (``frames``, ``engine``,
``hub_checks``) into a ``QualityOutcome`` (``outcome``) whose result is value-free (``scrub``);
``datadocs`` renders that result as a static Data Docs site. See docs/quality.md.
"""
