"""Helpers shared by every storybench widget (explorer, plan editor).

* :mod:`storybench.ui_kit.busy`: one decorator for a button action's busy state and
  for showing its error in the widget instead of a traceback.
* :mod:`storybench.ui_kit.pending`: an open question returned as data by a model
  (:class:`Pending`), shown by its view as a message with one button per answer.
* :mod:`storybench.ui_kit.links`: a saved file as a JupyterLab link (or its full path).

None of these import ipywidgets: models use them too.
"""

from storybench.ui_kit.busy import busy_action, error_message
from storybench.ui_kit.links import file_link
from storybench.ui_kit.pending import Pending

__all__ = ["Pending", "busy_action", "error_message", "file_link"]
