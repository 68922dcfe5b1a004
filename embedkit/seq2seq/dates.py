"""The built-in task: normalising human-written dates to ISO ``YYYY-MM-DD``.

A seeded generator writes each date in one of many formats (long and abbreviated month
names, weekdays, ordinals, US ``month/day``, European ``day.month``, British "the 3rd of
May", two-digit years, three casings).  Numeric formats are unambiguous by convention: a
slash means month/day (US), a dot or a dash between numbers means day.month (European),
and a two-digit year ``yy`` means 19yy from 50 on and 20yy below (dates run from
1950-01-01 to 2049-12-31).  Train, dev and test are drawn with fixed seeds and share no
source string.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SPLITS = {"train": (20000, 1), "dev": (1000, 2), "test": (2000, 3)}
_FIRST = _dt.date(1950, 1, 1).toordinal()
_LAST = _dt.date(2049, 12, 31).toordinal()


def _ordinal(d: int) -> str:
    if 10 <= d % 100 <= 20:
        return f"{d}th"
    return f"{d}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th') }"


def _formats(date: _dt.date) -> list[str]:
    d, m, y = date.day, date.month, date.year
    M, Mon = MONTHS[m - 1], MONTHS[m - 1][:3]
    W, Wd = DAYS[date.weekday()], DAYS[date.weekday()][:3]
    yy = f"{y % 100:02d}"
    return [
        f"{W}, {d} {M} {y}",          # Tuesday, 3 May 1979
        f"{W}, {M} {d}, {y}",         # Tuesday, May 3, 1979
        f"{d} {M} {y}",               # 3 May 1979
        f"{M} {d}, {y}",              # May 3, 1979
        f"{M} {_ordinal(d)}, {y}",    # May 3rd, 1979
        f"{M} {_ordinal(d)} {y}",     # march 8th 2001 (lower-cased below)
        f"the {_ordinal(d)} of {M}, {y}",  # the 3rd of May, 1979
        f"{_ordinal(d)} {M} {y}",     # 3rd May 1979
        f"{d} {Mon} {y}",             # 3 May 1979, abbreviated
        f"{Mon} {d} {y}",             # May 3 1979
        f"{Mon}. {d}, {y}",           # Sep. 3, 1979
        f"{Wd} {Mon} {d:02d} {y}",    # Tue May 03 1979
        f"{d:02d}-{Mon}-{yy}",        # 03-May-79
        f"{m}/{d}/{yy}",              # 5/30/68 (US)
        f"{m}/{d}/{y}",               # 5/30/1968 (US)
        f"{m:02d}/{d:02d}/{y}",       # 05/30/1968 (US)
        f"{d}.{m}.{y}",               # 30.5.1968 (European)
        f"{d:02d}.{m:02d}.{yy}",      # 30.05.68 (European)
        f"{y}-{m:02d}-{d:02d}",       # already ISO
        f"{y}/{m:02d}/{d:02d}",       # 1968/05/30
        f"{M} {y}, {_ordinal(d)}",    # May 1979, 3rd  (rare but seen)
        f"{y} {M} {d}",               # 1979 May 3
    ]


def date_pairs(n: int, seed: int) -> list[tuple[str, str]]:
    """``n`` (human-written, ISO) pairs from the generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        date = _dt.date.fromordinal(int(rng.integers(_FIRST, _LAST + 1)))
        forms = _formats(date)
        text = forms[int(rng.integers(len(forms)))]
        case = int(rng.integers(3))
        text = text.lower() if case == 1 else text.upper() if case == 2 else text
        out.append((text, date.isoformat()))
    return out


def dates_task() -> dict[str, list[tuple[str, str]]]:
    """The fixed splits ``{"train", "dev", "test"}``; dev and test sources never occur in
    train (nor test in dev)."""
    seen: set[str] = set()
    splits = {}
    for name, (n, seed) in SPLITS.items():
        pairs = []
        for src, tgt in date_pairs(3 * n, seed):
            if src in seen:
                continue
            seen.add(src)
            pairs.append((src, tgt))
            if len(pairs) == n:
                break
        splits[name] = pairs
    return splits
