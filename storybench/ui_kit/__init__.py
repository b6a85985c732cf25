"""Helpers shared by every storybench widget (explorer, plan editor).

* :mod:`storybench.ui_kit.busy`: one decorator for a button action's busy state and
  for showing its error in the widget instead of a traceback.
* :mod:`storybench.ui_kit.pending`: an open question returned as data by a model
  (:class:`Pending`), shown by its view as a message with one button per answer.
* :mod:`storybench.ui_kit.links`: a saved file as a JupyterLab link (or its full path).
* :mod:`storybench.ui_kit.a11y`: the focus ring and alert markup both apps use.

None of these import ipywidgets: models use them too. The widget pieces import it and
are imported from their modules:

* :mod:`storybench.ui_kit.question_view`: :class:`~storybench.ui_kit.question_view.QuestionView`,
  the pending question shown where the writer looks (focused, announced), and
  :func:`~storybench.ui_kit.question_view.answer_needed_status` for the status line.
* :mod:`storybench.ui_kit.binding`: :func:`~storybench.ui_kit.binding.bind` (a widget and a
  model trait kept equal) and :class:`~storybench.ui_kit.binding.Section` (a box that
  redraws one slice of the model when its traits change).
"""

from storybench.ui_kit.busy import busy_action, error_message
from storybench.ui_kit.links import file_link
from storybench.ui_kit.pending import Pending

__all__ = ["Pending", "busy_action", "error_message", "file_link"]
