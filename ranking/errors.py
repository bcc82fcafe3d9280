"""The one exception type the ranking library raises for bad input."""


class RankingError(ValueError):
    """Bad input or an impossible fit, with a one-line message meant for people.

    The CLI prints it as ``error: <message>`` and exits 2; the web API returns it as
    ``{"error": "<message>"}``. The message never contains a traceback or a repr.
    """
