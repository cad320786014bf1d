"""Learning: what a user states becomes memories, and feedback adjusts them.

``facts`` (the `Fact` type and the offline rules), ``llm_facts`` (extraction by a model), ``supersede``
(storing facts and superseding what they contradict), ``queue`` (the background learning thread) and
``learner`` (one chat turn's learning, and feedback).
"""
