"""The offline rules, part seven: what the user does as a habit, and how such a habit ends.

* an activity said with how long it has lasted ("I've been quilting for about ten years", "I am sailing
  since I was a child", "I've been lifting for two years");
* a group the user belongs to for an activity ("I joined a bridge club", "I sing in the church choir",
  "I play in a samba band");
* smoking ("I smoke", "I'm a smoker"), ended by "I've quit smoking" (`store="ends"`, like every ending);
* an activity that stops ("doc says no more surfing", "no more running for me");
* what the user is "a ... man/person" for ("I'm a tea man now").

Registered after the other parts: a clause another rule reads is theirs (but the smoking ending comes first,
so "I quit smoking" is not read as leaving an employer).
"""

from __future__ import annotations

import re

from .rules import clean, items, proper, rule, work_mode
from .rules_identity import ACTIVITIES
from .rules_lexicon import gerund, place_after
from .slots import Fact, norm_value
from .words import words

__all__: list[str] = []

_DOING = {gerund(v) for v in ACTIVITIES.split("|")} | words(
    "lifting bouldering fishing gardening sailing rowing quilting knitting sewing pottery woodworking "
    "birdwatching surfing skating skiing climbing running swimming cycling hiking dancing singing painting "
    "drawing baking crocheting meditating journaling weightlifting kickboxing boxing fencing archery"
)
_DURATION = (
    r"(?:for\s+(?:about\s+|around\s+|over\s+|nearly\s+|almost\s+|more than\s+|the (?:past|last)\s+)?(?:\d+|a|an|one|two|"
    r"three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|forty|fifty|many|several|ages|years|"
    r"decades)\b|since\b)"
)


@rule(rf"^i(?:'ve| have|'m| am)?\s*(?:been\s+)?(?P<x>[a-z]+ing|(?:playing|doing)\s+(?:the\s+)?[\w-]+)\s+(?P<rest>{_DURATION}.*)$")
def _doing_for_years(m: re.Match[str]) -> list[Fact]:
    x = re.sub(r"^(?:playing|doing)\s+(?:the\s+)?", "", m["x"].lower())  # "playing piano since I was six"
    if x not in _DOING and x == m["x"].lower():
        return []
    if re.match(r"(?:it|this|that|them|well|ok|okay|fine|nothing|something|work|my)$", x):
        return []
    rest = re.split(r",|\s+(?:and|but|so)\s+", m["rest"], maxsplit=1)[0]
    if not re.search(r"\b(?:years?|months?|ages|decades?|a while|a long time)\b|^since\b", rest, re.I):
        return []  # "I've been running for ten minutes": what the user is doing, not a pastime
    return [Fact(f"I've been {m['x'].lower()} {rest.strip().rstrip('.!;:')}.", "preference", f"likes:{x}", x)]


_GROUP = r"club|choir|band|orchestra|team|league|society|ensemble|troupe|group"


@rule(
    rf"^i(?:'ve| have)?\s+(?:just\s+|recently\s+|also\s+|finally\s+)?(?:joined|signed up (?:for|to|with))\s+"
    rf"(?:an?|the|our|my)\s+(?:local\s+)?(?P<x>[\w' -]{{2,30}}?)\s+(?P<c>{_GROUP})\b.*$",
    first=True,
)
def _joined_group(m: re.Match[str]) -> list[Fact]:
    x, group = clean(m["x"]), m["c"].lower()
    if re.match(r"(?:new|gym|whatsapp|facebook|work|support)$", x, re.I):
        return []  # "joined a new team" is work; a chat group is not a pastime
    return [Fact(f"I joined a {x} {group}.", "preference", f"likes:{norm_value(x)}", x)]


@rule(
    rf"^i\s+(?:also\s+|still\s+)?(?P<v>sing|play|dance|perform|row|run|swim|ride)\s+(?:\w+\s+)?(?:in|with|for)\s+"
    rf"(?:an?|the|our|my)\s+(?:local\s+)?(?P<x>[\w' -]{{0,30}}?)\s*(?P<c>{_GROUP})\b(?P<rest>.*)$",
    first=True,
)
def _in_a_group(m: re.Match[str]) -> list[Fact]:
    x, group, verb = clean(m["x"]), m["c"].lower(), m["v"].lower()
    if not x and group not in ("choir", "band", "orchestra", "ensemble"):
        return []  # "I swim with a group": no pastime named
    thing = f"{x} {group}".strip()
    place = place_after(m["rest"])  # "a samba band in São Paulo"
    return [Fact(f"I {verb} in a {thing}.", "preference", f"likes:{norm_value(thing)}", thing)] + (
        [Fact(f"I live in {place}.", "profile", "location", place)] if place else []
    )


@rule(
    r"^(?:i\s+(?:still\s+|also\s+)?(?:smoke|vape)(?:\s+(?:cigarettes|a lot|daily|every day|heavily|occasionally|"
    r"socially|sometimes|too much))?|i(?:'m| am)\s+(?:still\s+)?an?\s+(?:heavy\s+|light\s+|social\s+|chain\s+)?"
    r"(?:smoker|vaper))$"
)
def _smokes(m: re.Match[str]) -> list[Fact]:
    return [Fact("I smoke.", "fact", "likes:smoking", "smoking")]


@rule(
    r"^i(?:'ve| have)?\s+(?:(?:officially|finally|just|now|completely|totally|actually|also)\s+)*(?:quit|stopped|"
    r"given up|gave up|kicked)\s+(?P<x>smoking|vaping|cigarettes|the cigarettes|the fags)\b.*$|^i\s+used\s+to\s+(?:smoke|vape)\b.*$",
    first=True,
)
def _quit_smoking(m: re.Match[str]) -> list[Fact]:
    return [Fact("I quit smoking.", "fact", "likes:smoking", "smoking", negated=True, store="ends")]


@rule(
    r"^(?:.*?\b(?:doc|doctor|physio|gp|dentist|surgeon|coach)\s+(?:says|said|told me|'s orders)[,:]?\s+)?"
    r"no more\s+(?P<x>[a-z]+ing)\b.*$"
)
def _no_more(m: re.Match[str]) -> list[Fact]:
    x = m["x"].lower()
    if x not in _DOING:
        return []
    return [Fact(f"I've stopped {x}.", "preference", f"likes:{x}", x, negated=True, store="ends")]


_NOT_A_LIKING = words(
    "lucky happy married family single old young busy simple patient changed free new grown wise proud humble good "
    "bad big little rich poor working sick tired nice kind decent honest lonely fair"
)


@rule(
    r"^i(?:'m| am)\s+(?:(?:really|very much|definitely|more of)\s+)?an?\s+(?P<x>[\w'-]{2,20})\s+(?:man|woman|gal)"
    r"(?:\s+(?:now|these days|entirely|through and through|at heart|all the way))*$"
)
def _a_thing_man(m: re.Match[str]) -> list[Fact]:
    x = m["x"]
    if x.lower() in _NOT_A_LIKING or x[:1].isdigit():
        return []
    return [Fact(f"I'm into {x}.", "preference", f"likes:{norm_value(x)}", x)]


@rule(
    r"^i(?:'ve| have)?\s+(?:also\s+|just\s+|recently\s+)?(?:started|begun|taken to|got into)\s+drinking\s+"
    r"(?P<x>[\w' -]{3,30}?)(?:\s+(?:now|instead|again|lately|recently))*$"
)
def _started_drinking(m: re.Match[str]) -> list[Fact]:
    """ "I also started drinking green tea, I love it now": a drink taken up is a liking."""
    x = clean(m["x"])
    return [Fact(f"I drink {x} now.", "preference", f"likes:{norm_value(x)}", x)] if x else []


@rule(
    r"^i(?:'ve| have)?\s+(?:(?:also|just|completely|totally|now)\s+)*cut\s+out\s+(?P<x>[\w' -]{3,30}?)"
    r"(?:\s+(?:completely|entirely|altogether|totally|now|for good))*(?:,.*)?$"
)
def _cut_out(m: re.Match[str]) -> list[Fact]:
    """ "I've cut out caffeine completely, doctor's orders": the user no longer has it."""
    x = clean(m["x"])
    return [Fact(f"I no longer have {x}.", "preference", f"likes:{norm_value(x)}", x, negated=True)] if x else []


_PRACTICES = (
    r"yoga|pilates|crossfit|karate|judo|taekwondo|ballet|boxing|kickboxing|jiu-jitsu|bjj|tai chi|zumba|parkrun|"
    r"triathlons?|spin|spinning|martial arts|aikido|kung fu|muay thai|capoeira|calisthenics|powerlifting|salsa"
)


@rule(rf"^i\s+(?:also\s+|still\s+|regularly\s+)?do\s+(?P<x>{_PRACTICES})\b(?P<rest>.*)$")
def _does_practice(m: re.Match[str]) -> list[Fact]:
    """ "I do yoga every morning", "I do karate twice a week": a practice the user keeps up."""
    x = m["x"].lower()
    if re.match(r"\s+(?:for|with|at)\s+(?:a|an|my|the)\s+(?:living|job|work|class(?:es)? for)\b", m["rest"], re.I):
        return []  # "I do yoga for a living" is work (another rule)
    return [Fact(f"I do {x}.", "preference", f"likes:{x}", x)]


@rule(r"^i(?:'m| am)?\s*(?:(?:completely|totally|now|also)\s+)*(?:don't|do not|never)\s+drink(?:\s+alcohol)?(?:\s+(?:at all|anymore|any more))?$|^i(?:'m| am)\s+(?:now\s+)?(?:teetotal|tee-total|a teetotaller|sober)(?:\s+now)?$")
def _no_alcohol(m: re.Match[str]) -> list[Fact]:
    """ "I don't drink", "I'm teetotal", "I'm sober now": no alcohol."""
    return [Fact("I don't drink alcohol.", "preference", "likes:alcohol", "alcohol", negated=True)]


@rule(
    r"^(?:i(?:'m| am)|we(?:'re| are))\s+(?:now\s+)?expecting\s+(?:a baby|our first|my first|twins|a (?:boy|girl)|"
    r"a little one|baby number)\b.*$"
)
def _expecting(m: re.Match[str]) -> list[Fact]:
    """ "we're expecting a baby in May": a baby on the way."""
    return [Fact("We're expecting a baby.", "fact", "family:baby", "baby")]


@rule(r"^i\s+(?:now\s+|mostly\s+|mainly\s+|currently\s+)?work\s+(?P<x>remotely|from home|hybrid|fully remote|in an office|on site|onsite)(?:\s+(?:now|these days|full-time|most days))*$")
def _work_mode(m: re.Match[str]) -> list[Fact]:
    """ "I work remotely", "I work from home": how, not where (no employer, no job)."""
    x = m["x"].lower()
    return work_mode(x) or [Fact(f"I work {x}.", "profile", "work_mode", x)]


@rule(
    r"^i(?:'ve| have)?\s+(?:kind of\s+|kinda\s+|totally\s+|completely\s+)?(?:fallen out of love with|lost interest in|"
    r"gotten bored of|got bored of|grown out of)\s+(?P<x>.+)$"
)
def _lost_interest(m: re.Match[str]) -> list[Fact]:
    """ "I've fallen out of love with running", "I lost interest in chess": a liking that ended."""
    return [
        Fact(f"I'm not into {x} anymore.", "preference", f"likes:{norm_value(x)}", x, negated=True)
        for x in items(m["x"])
    ]


@rule(r"^my\s+(?:main\s+|favou?rite\s+|big\s+)?(?:hobby|hobbies|pastimes?|passions?|interests?)\s+(?:is|are|include|would be)\s+(?P<x>.+)$")
def _my_hobbies(m: re.Match[str]) -> list[Fact]:
    """ "My hobbies are painting and gardening", "my hobby is fishing"."""
    return [Fact(f"I enjoy {x}.", "preference", f"likes:{norm_value(x)}", x) for x in items(m["x"])]


@rule(
    r"^(?:(?:a|an|bad|severe|mild)\s+)*(?P<x>(?!(?:my|no|the|an?|any|some|his|her|their|your|our|this|that)\b)"
    r"[a-z][\w-]{1,20}(?:\s+[a-z][\w-]{1,20})?)\s+allergy"
    r"(?:\s+here)?(?:,.*)?$",
    first=True,
)
def _allergy_fragment(m: re.Match[str]) -> list[Fact]:
    """ "Shellfish allergy, so no prawns please": an allergy said as a fragment."""
    x = m["x"].lower()
    return [Fact(f"I have a {x} allergy.", "fact", f"allergy:{norm_value(x)}", x)]


@rule(r"^i(?:'m| am)\s+(?:also\s+|very\s+)?intolerant\s+(?:to|of)\s+(?P<x>[\w -]{2,20})$")
def _intolerant(m: re.Match[str]) -> list[Fact]:
    """ "I'm intolerant to lactose": the same slot as "I'm lactose intolerant"."""
    x = clean(m["x"]).lower()
    return [Fact(f"I'm {x} intolerant.", "fact", f"health:{norm_value(x)} intolerant", f"{x} intolerant")]


@rule(r"^(?:i|we)\s+(?:moved|came|emigrated|immigrated)\s+(?:here|over)\s+from\s+(?P<x>.+)$")
def _came_from(m: re.Match[str]) -> list[Fact]:
    """ "I moved here from Brazil": where the user comes from."""
    place = proper(m["x"])
    return [Fact(f"I'm from {place}.", "profile", "hometown", place)] if place else []
