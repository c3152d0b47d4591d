"""The one exception type a user can cause.

Anything raised as :class:`MmerError` is printed by the command-line entry points as a single line
(``error: <message>``) with a non-zero exit, instead of a traceback: the message must name the file,
video or flag at fault and say what is wrong with it.
"""


class MmerError(Exception):
    """A problem with the user's input (file, flag value, corpus), reported as one line."""
