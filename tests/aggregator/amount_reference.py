"""The text-amount rules in plain Python, and random text to check parsers against."""

import re

import numpy as np

_SHAPE = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"


def reference_amount(value):
    """Return (number or NaN, unparseable?) for one text amount, one at a time."""
    if value is None or not value.strip():
        return np.nan, False
    text = value.strip()
    negative = re.fullmatch(r"\(.*\)", text) is not None
    inner = re.sub(r"[$€£¥\s]", "", text[1:-1] if negative else text)
    if not re.fullmatch(_SHAPE, inner) or (negative and inner[:1] in "+-"):
        return np.nan, True
    number = float(inner.replace(",", ""))
    return (-number if negative else number), False


def random_amount_texts(rng) -> list:
    """Return random junk, vendor-shaped amounts and their negatives, and a None."""
    alphabet = list("0123456789,.()+-$€ ")
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 9))) for _ in range(4000)]
    texts += [f"{x:,.2f}" for x in rng.normal(0, 1e6, 2000)]
    texts += [f"({abs(x):,.2f})" for x in rng.normal(0, 1e4, 500)] + [None]
    return texts
