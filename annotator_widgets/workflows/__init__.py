"""Workflows: multi-step jobs built on the session's verbs (one direction only: the session never imports them).

* :mod:`.people` - track everybody, pick the person under a click, seed a region, segment people;
* :mod:`.poses` - the pieces they are made of (tracks into a project, clicks on people, prompts from landmarks);
* :mod:`.actions` - hand-object interaction segments and their descriptions.

Long-running workflows report progress and stop on a cancel signal the same way
everywhere (:mod:`annotator_widgets.progress`), so the widget's tools and scripts run the same code.
"""

from __future__ import annotations
