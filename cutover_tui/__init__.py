"""cutover: a terminal wizard for production cutovers, and the headless core under it.

Nothing in this package imports textual at module level; the UI lives in ``screens``.
"""

__version__ = "0.1.0"
