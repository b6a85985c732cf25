"""How the ``storybench`` command words failures: the names of :mod:`storybench.messages`.

The wording lives in :mod:`storybench.messages` (below the engine, so a lower layer never
imports the CLI); the command and the notebooks import it from here or from there.
"""

from storybench.exceptions import UsageError
from storybench.messages import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    NOTEBOOK_ERRORS,
    Explained,
    explain,
    explain_os_error,
    show_errors_as_sentences,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "NOTEBOOK_ERRORS",
    "Explained",
    "UsageError",
    "explain",
    "explain_os_error",
    "show_errors_as_sentences",
]
