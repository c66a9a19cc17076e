"""Analyst access: projects approved against the agreements (``projects``), each project's view
of a release (``access``), read-only SQL over it (``sandbox``), controlled tables of counts
(``outputs``), measures (``measures``), the catalogue (``catalogue``), and one service for the
pages, the API and ``hub query`` (``service``). docs/analysts.md."""
