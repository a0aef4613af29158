"""Processing state of a food named by a description: frozen, dried, juice, alkalised, canned.

Flavonoids (and other values) differ by state: USDA R3.3 gives frozen unsweetened blueberries
104 mg/100 g against 181 mg raw, natural cocoa powder 271 mg against 97 mg alkalised. A crosswalk
row that links two descriptions in different states carries the wrong value, so crosswalks are
scanned with `state_mismatches`; the justified exceptions are listed, with a reason each, in
data/reference/crosswalk_state_exceptions.csv.

States are read from words, after the packing phrases that name no state of the food itself are
removed ("juice pack", "packed in tomato juice": canned fruit, not juice). A description that
lists alternatives with a slash (FDA FDD "Blueberries, raw/frozen", "Spinach, canned/cooked")
is in either state: a partner in one of them agrees. Juice is canned or bottled as sold, so
"canned" is not a difference between two juices.
"""
from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from gutaxis import DATA_DIR
from gutaxis.reference_tables import read_reference

STATE_WORDS = {
    "frozen": r"\bfrozen\b",
    # "dry" as an attribute (", dry" as in "Cherries, sour, dry, sweetened"), not "dry heat" or "dry roasted"
    "dried": r"\b(dried|dehydrated|freeze-dried)\b|(^|,)\s*dry\s*(,|$)",
    "juice": r"\b(juices?|nectars?)\b",
    "alkalised": r"\b(alkali|alkalised|alkalized|dutch(ed)?)\b",
    "canned": r"\bcanned\b",
}
CHECKED_STATES = tuple(STATE_WORDS)
# words that say how a food is packed, not what state it is in
# words that say how a food is packed or sold, not what state it is in: canned fruit "juice pack";
# SR's "(may have been previously frozen)" fish
PACKING = re.compile(r"(?i)\bjuice pack\b|\bpacked in [a-z]+ juice\b|\bin (light |heavy )?syrup\b|"
                     r"\(may have been previously frozen\)")
# "raw/frozen", "canned/cooked/frozen": a slash list of states (or of the words raw/cooked)
ALTERNATIVES = re.compile(r"(?i)\b(raw|cooked|frozen|canned|dried)(/(raw|cooked|frozen|canned|dried))+\b")
EXCEPTIONS_PATH = DATA_DIR / "reference" / "crosswalk_state_exceptions.csv"
EXCEPTION_COLUMNS = ("crosswalk", "description", "sr_code", "state", "reason")


def states(description: str | None) -> set[str]:
    """The checked processing states a description names (see the module docstring)."""
    if not description:
        return set()
    text = PACKING.sub(" ", description)
    found = {state for state, words in STATE_WORDS.items() if re.search(words, text, flags=re.IGNORECASE)}
    if re.search(r"(?i)\bconcentrate\b", text):
        found.discard("frozen")  # juice concentrates are sold frozen: the state is "concentrate"
    return found


def _alternatives(description: str | None) -> set[str]:
    """States offered as alternatives ("raw/frozen" -> {raw, frozen}), raw and cooked included."""
    found: set[str] = set()
    for match in ALTERNATIVES.finditer(description or ""):
        found |= {word.lower() for word in match.group(0).split("/")}
    return found


def mismatched_states(left: str | None, right: str | None) -> set[str]:
    """Checked states that one description names and the other does not, alternatives and juice allowed for."""
    a, b = states(left), states(right)
    differing = a ^ b
    if "juice" in a and "juice" in b:
        differing.discard("canned")
    offered = _alternatives(left)
    if offered:
        # "raw/frozen" agrees with raw or frozen: a partner in one of the offered states is no mismatch
        right_words = b | ({"raw"} if re.search(r"(?i)\braw\b", right or "") else set()) | (
            {"cooked"} if re.search(r"(?i)\b(cooked|boiled|baked|roasted|stewed|microwaved)\b", right or "") else set())
        if right_words & offered:
            differing -= offered
            differing -= a  # the left side's other listed states are alternatives too
    return differing


def state_mismatches(crosswalk: pl.DataFrame, left: str, right: str = "sr_description") -> pl.DataFrame:
    """Rows of `crosswalk` whose two descriptions disagree on a checked state, with the state(s)."""
    found = [
        {left: a, "sr_code": code, right: b, "state": state}
        for a, code, b in crosswalk.select(left, "sr_code", right).iter_rows()
        for state in sorted(mismatched_states(a, b))
    ]
    return pl.DataFrame(found, schema={left: pl.String, "sr_code": pl.String, right: pl.String, "state": pl.String})


def load_exceptions(path: Path = EXCEPTIONS_PATH) -> pl.DataFrame:
    """The reviewed state mismatches kept on purpose: crosswalk, description, sr_code, state, reason."""
    return read_reference(Path(path), EXCEPTION_COLUMNS, "crosswalk state exceptions").with_columns(
        pl.col("sr_code").str.strip_chars().str.zfill(5))
