"""The plan editor's section widgets, one per slice of the model (assembled by :mod:`storybench.editor.view`).

* :mod:`.base`: CSS classes, control builders with accessible names, the style sheet, :class:`EditorSection`.
* :mod:`.toolbar`: plan list, Open, Save, dirty marker, Undo, Redo.
* :mod:`.status`: status line (answer needed, save warnings in words, file link) and the alert.
* :mod:`.navigator`: chapter, page + layout, panel pickers and their buttons.
* :mod:`.panel_form`: the selected panel's fields; holds :mod:`.dialogue` (one row per line).
* :mod:`.characters`: the character form and seeds.
* :mod:`.image_prompt`: enhancement presets and the enhanced prompt.
* :mod:`.generate`: plan a comic from an idea, with progress and Stop.
* :mod:`.issues`: one button per issue; a click goes to its place.
* :mod:`.preview`: the debounced page preview, its text alternative, a full-size view.
"""
