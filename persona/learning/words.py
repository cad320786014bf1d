"""Word lists the rules share."""

from __future__ import annotations

__all__ = ["NOT_NAMES", "words"]


def words(text: str) -> set[str]:
    """The set of the words in ``text`` (lists of words read better as one string)."""
    return set(text.split())


NOT_NAMES = words(  # words that follow "I'm" and are not a name
    "fine good ok okay back sorry tired busy here home vegan vegetarian new sure ready done free "
    "single married retired pregnant sick ill bored hungry excited happy sad stressed nervous late "
    "early english french german italian spanish american british canadian australian irish scottish "
    "welsh chinese japanese korean indian polish dutch swedish norwegian danish finnish brazilian "
    "mexican portuguese russian greek turkish egyptian muslim christian jewish catholic hindu "
    "buddhist atheist gay straight bi trans also still not so just really in on at from a an the out "
    "off up down all almost always never alone allergic diabetic coeliac celiac vegetarian "
    "pescatarian curious confused lost stuck broke poor rich old young fit lazy human oh hey hi hello yo "
    "well wait yes yeah yep nope ok okay hmm ugh wow update anyway thanks cheers"
)
