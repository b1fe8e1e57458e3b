"""The monitoring week (issue 13): red-flag rules evaluated from probe observations
(``rules``), their history in SQLite beside the checklist (``store``), and notifications
through Apprise (``notify``)."""
