"""The evidence's prose against its tables and per-seed numbers: a wrong number fails here.

The benchmark scripts write the sections of ``benchmarks/RESULTS.md`` (between ``<!-- name:start
-->`` and ``<!-- name:end -->``) and, for every table with seeds, the per-seed numbers beside
them (``benchmarks/results/<name>.csv``). People write the prose: RESULTS.md's summaries,
README's "What the evidence says", ``docs/getting_started.md`` and the CHANGELOG's entries on
the evidence. Every number that prose quotes from a table carries a hidden tag saying where it
comes from, checked here by recomputing it (never by reading the code under test):

* ``+0.0123 [+0.0040, +0.0206] win<!-- = diff("convergence_mnist1d_mlp", "indian",
  "momentum", "final_test_accuracy") -->``: an interval (or its mean alone), recomputed from
  the CSV by the paired t rule; ``mean``, ``resolution``, ``pt`` (x 100) likewise;
* ``1.36-2.89x<!-- = span("step_cost_brief", ".*", "INDIAN / momentum") -->``: a range of
  table cells; ``cell`` one cell; ``find`` a number the section's text states;
* ``3 wins, 16 ties and 5 losses<!-- counts: SECTIONS; ROWS; COLUMNS -->``: verdict counts
  (sections as globs separated by commas; rows as a regular expression matched against the
  row's leading cells joined by " | ", up to a cell's end; the columns' headers as a regular
  expression, searched);
* ``2.982<!-- = cited("INNAprop paper, GPT-2 small") -->``: a number from the literature.

A quoted number with k decimals must equal the recomputed one rounded to k decimals. Every
other number with a decimal point in that prose fails the coverage test, except inside code
spans and tuples of settings such as (0.5, 0.1).
"""

import csv
import fnmatch
import math
import pathlib
import re

import numpy as np
import pytest
import scipy.stats

ROOT = pathlib.Path(__file__).parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SEEDS = ROOT / "benchmarks" / "results"

SECTION = re.compile(r"<!-- ([\w-]+):start -->\n(.*?)<!-- \1:end -->", re.S)
COUNT = re.compile(r"(\d+)\s+wins?,\s+(\d+)\s+ties?\s+and\s+(\d+)\s+loss(?:es)?")
ANY_COUNT = re.compile(r"\d+\s+(?:wins?|ties?|loss(?:es)?)\b")
TAGGED = re.compile(COUNT.pattern + r"\s*<!-- counts: (.*?) -->")
QUOTE_TAG = re.compile(r"<!-- = (.*?) -->", re.S)
NUMBER = r"[+-]?\d+(?:\.\d+)?"
INTERVAL = rf"(?P<mean>{NUMBER}) \[(?P<low>{NUMBER}), (?P<high>{NUMBER})\]"
QUOTED = re.compile(
  rf"(?:{INTERVAL}(?: \**(?P<verdict>win|tie|lose))?"
  rf"|(?P<first>{NUMBER})(?:-| to )(?P<last>{NUMBER})|(?P<number>{NUMBER}))"
  r"(?:x|×| ?%| pt| points?)?\**$"
)
VERDICTS = ("win", "tie", "lose")


def sections(text: str | None = None) -> dict[str, str]:
  return {m[1]: m[2] for m in SECTION.finditer(RESULTS.read_text() if text is None else text)}


def prose() -> dict[str, str]:
  """The hand-written text that quotes the evidence."""
  readme = (ROOT / "README.md").read_text()
  evidence = re.search(r"^## What the evidence says.*?(?=^## )", readme, re.S | re.M)
  assert evidence, "README.md has no 'What the evidence says' section"
  changelog = (ROOT / "CHANGELOG.md").read_text()
  entry = re.search(r"^### Evidence.*?(?=^##)", changelog, re.S | re.M)
  assert entry, "CHANGELOG.md has no '### Evidence' entry"
  found = {
    "RESULTS.md": SECTION.sub("", RESULTS.read_text()),
    "README.md": evidence[0],
    "docs/getting_started.md": (ROOT / "docs" / "getting_started.md").read_text(),
    "CHANGELOG.md": entry[0],
  }
  # Elsewhere in README and the docs, every paragraph that cites the benchmarks.
  pages = {"README.md": readme.replace(evidence[0], "")}
  pages |= {f"docs/{p.name}": p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))}
  for name, text in pages.items():
    citing = [p for p in re.split(r"\n\s*\n", text) if re.search(r"RESULTS\.md|benchmarks/", p)]
    if name not in found and citing:
      found[name] = "\n\n".join(citing)
    elif citing and name == "README.md":
      found["README.md (elsewhere)"] = "\n\n".join(citing)
  return found


# --- The tables and per-seed numbers, read independently of the scripts ---------------------


def tables(text: str) -> list[list[list[str]]]:
  """Every markdown table of ``text``: its rows (header first, no separator) of cells."""
  found, current = [], []
  for line in text.splitlines() + [""]:
    if line.startswith("|"):
      if not re.fullmatch(r"\|(\s*-+\s*\|)+", line.replace(" ", "")):
        current.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    elif current:
      found.append(current)
      current = []
  return found


def _row_matches(rows: str, row: list[str]) -> bool:
  """Whether ``rows`` matches the row's leading cells, joined by " | ", up to a cell's end."""
  joined = " | ".join(cell.replace("*", "").strip() for cell in row)
  return re.match(rf"(?:{rows})(?: \||$)", joined) is not None


def verdict(cell: str) -> str | None:
  words = cell.replace("*", " ").split()
  return words[-1] if words and words[-1] in VERDICTS else None


def per_seed(section: str, setting: str, metric: str) -> dict[int, float]:
  path = SEEDS / f"{section}.csv"
  assert path.exists(), f"{section} keeps no per-seed numbers ({path.name})"
  with open(path) as handle:
    rows = [r for r in csv.DictReader(handle) if r["setting"] == setting]
  assert rows, f"{path.name} has no rows of {setting!r}"
  assert len({r["seed"] for r in rows}) == len(rows), f"{path.name}: {setting!r} repeats a seed"
  if metric == "gap":  # recomputed here, not read from the column the script wrote
    return {
      int(r["seed"]): float(r["final_test_loss"]) - float(r["final_train_loss"]) for r in rows
    }
  return {int(r["seed"]): float(r[metric]) for r in rows}


class Interval:
  """A paired t interval at 95 %, recomputed here from two settings' per-seed numbers."""

  def __init__(self, a: dict[int, float], b: dict[int, float], higher_is_better: bool):
    seeds = [s for s in a if s in b]
    d = np.array([a[s] - b[s] for s in seeds])
    self.n, self.mean = len(d), float(d.mean())
    self.half = float(scipy.stats.t.ppf(0.975, self.n - 1) * d.std(ddof=1) / math.sqrt(self.n))
    self.low, self.high = self.mean - self.half, self.mean + self.half
    better = self.mean > 0 if higher_is_better else self.mean < 0
    self.verdict = "tie" if self.low <= 0 <= self.high else ("win" if better else "lose")
    self.sd = float(d.std(ddof=1))

  def scaled(self, factor: float) -> "Interval":
    copy = object.__new__(Interval)
    copy.__dict__ = dict(self.__dict__)
    for name in ("mean", "low", "high", "half", "sd"):
      setattr(copy, name, getattr(self, name) * factor)
    return copy


def lower_is_better(metric: str) -> bool:
  return "loss" in metric or metric == "gap"


def diff(section: str, a: str, b: str, metric: str) -> Interval:
  return Interval(
    per_seed(section, a, metric), per_seed(section, b, metric), not lower_is_better(metric)
  )


def mean(section: str, setting: str, metric: str) -> float:
  return float(np.mean(list(per_seed(section, setting, metric).values())))


def resolution(section: str, a: str, b: str, metric: str) -> float:
  """The smallest true difference detected with 80 % power, (t_.975 + t_.80) sd / sqrt(n)."""
  d = diff(section, a, b, metric)
  t = scipy.stats.t.ppf(0.975, d.n - 1) + scipy.stats.t.ppf(0.8, d.n - 1)
  return float(t * d.sd / math.sqrt(d.n))


def seeds_needed(section: str, a: str, b: str, metric: str, target: float) -> int:
  """Seeds for the comparison to resolve ``target`` with 80 % power, at its measured sd."""
  sd = diff(section, a, b, metric).sd
  n = 2
  while (scipy.stats.t.ppf(0.975, n - 1) + scipy.stats.t.ppf(0.8, n - 1)) * sd / math.sqrt(
    n
  ) > target:
    n += 1
  return n


def pt(value):
  """Accuracy in points (x 100)."""
  if isinstance(value, Interval):
    return value.scaled(100)
  if isinstance(value, tuple):
    return tuple(100 * v for v in value)
  return 100 * value


def _number(cell: str, pattern: str = f"({NUMBER})") -> float:
  """The number ``pattern``'s group 1 finds in ``cell`` (by default its first number)."""
  found = re.search(pattern, cell.replace("*", ""))
  assert found, f"no {pattern!r} in the cell {cell!r}"
  return float(found[1])


def _cells(section: str, rows: str, column: str | int, table: int | None = None) -> list[str]:
  """The cells of the rows whose leading cells match ``rows`` (cells joined by " | "), in the
  columns whose header ``column`` searches (or the column of that index), of every table of
  the section or of the one numbered ``table`` (from 0)."""
  found = sections()
  texts = [found[name] for name in fnmatch.filter(found, section)]  # a name, or a glob of names
  chosen = [t for text in texts for t in (tables(text) if table is None else [tables(text)[table]])]
  picks = lambda header: (
    [column]
    if isinstance(column, int)
    else [i for i, t in enumerate(header) if re.search(column, t)]
  )
  cells = [
    row[i]
    for header, *body in chosen
    for i in picks(header)
    for row in body
    if _row_matches(rows, row)
  ]
  assert cells, f"{section}: no cell in rows {rows!r}, column {column!r}"
  return cells


def cell(
  section: str, row: str, column: str | int, table: int | None = None, pattern=None
) -> float:
  (found,) = _cells(section, row, column, table)
  return _number(found, *([pattern] if pattern else []))


def span(
  section: str, rows: str, column: str | int, table: int | None = None, pattern=None
) -> tuple[float, float]:
  """(min, max) of the cells' numbers (``pattern`` as in ``cell``)."""
  values = [
    _number(c, *([pattern] if pattern else [])) for c in _cells(section, rows, column, table)
  ]
  return min(values), max(values)


def find(section: str, pattern: str) -> float:
  """The number in group 1 of ``pattern``, searched in the section's text."""
  found = re.search(pattern, sections()[section])
  assert found, f"{section}: {pattern!r} not found"
  return float(found[1])


CITED = {
  "INNAprop paper: GPT-2 small, INNAprop validation loss": 2.982,
  "INNAprop paper: GPT-2 small, AdamW validation loss": 3.032,
  "by hand, 10 leaves of 1e7: INNAprop without decay, barrier, per call / AdamW": 1.3,
  "by hand, 10 leaves of 1e7: INNAprop with decay, barrier, per call / AdamW": 3.2,
}
"""Numbers no table of ours holds: the literature's, and measurements made by hand."""


def cited(source: str) -> float:
  assert source in CITED, f"cited({source!r}) is not in CITED"
  return CITED[source]


def count(where: str, results: dict[str, str]) -> tuple[dict[str, int], int]:
  """The verdicts in the cells a tag names (``sections; rows; columns``), and the cells."""
  glob, rows, columns = (part.strip() for part in where.split(";"))
  counts, cells = dict.fromkeys(VERDICTS, 0), 0
  names = [name for pattern in glob.split(",") for name in fnmatch.filter(results, pattern.strip())]
  for name in dict.fromkeys(names):
    for header, *body in tables(results[name]):
      picked = [i for i, title in enumerate(header) if re.search(columns, title)]
      for row in body:
        if _row_matches(rows, row):
          for i in picked:
            cells += 1
            if (found := verdict(row[i])) is not None:
              counts[found] += 1
  assert cells, f"the tag '{where}' names no table cell of RESULTS.md"
  return counts, cells


# --- Checking a quote ------------------------------------------------------------------------


def _agrees(quoted: str, value: float) -> bool:
  """``quoted`` is ``value`` rounded to its decimals, and a signed quote has its sign."""
  decimals = len(quoted.split(".")[1]) if "." in quoted else 0
  close = abs(float(quoted) - value) <= 0.5 * 10**-decimals * (1 + 1e-9) + 1e-12
  sign = quoted[0] not in "+-" or (quoted[0] == "-") == (value < 0) or value == 0
  return close and sign


def check_quote(quote: str, value) -> str | None:
  """Why ``quote`` (the text before a tag) disagrees with ``value``, or None."""
  found = QUOTED.search(quote.rstrip())
  if not found:
    return "no number before the tag"
  if found["mean"] is not None:
    if not isinstance(value, Interval):
      return "an interval quoted for a value that is not one"
    pairs = [(found["mean"], value.mean), (found["low"], value.low), (found["high"], value.high)]
    if not all(_agrees(q, v) for q, v in pairs):
      return f"recomputed {value.mean:+.4f} [{value.low:+.4f}, {value.high:+.4f}]"
    if found["verdict"] and found["verdict"] != value.verdict:
      return f"recomputed verdict {value.verdict}"
    return None
  if found["first"] is not None:
    if not isinstance(value, tuple):
      return "a range quoted for a value that is not one"
    ok = _agrees(found["first"], value[0]) and _agrees(found["last"], value[1])
    return None if ok else f"recomputed {value[0]:g} to {value[1]:g}"
  if isinstance(value, tuple):  # one number for a range: every cell holds it
    ok = all(_agrees(found["number"], v) for v in value)
    return None if ok else f"recomputed {value[0]:g} to {value[1]:g}"
  number = value.mean if isinstance(value, Interval) else value
  return None if _agrees(found["number"], number) else f"recomputed {number:g}"


NAMESPACE = dict(
  diff=diff, mean=mean, resolution=resolution, seeds_needed=seeds_needed, pt=pt, cell=cell,
  span=span, find=find, cited=cited, abs=abs,
)  # fmt: skip


def quotes(text: str) -> list[tuple[str, str]]:
  """(quoted text, expression) of every tag, the quote being the 80 characters before it."""
  return [(text[max(0, m.start() - 80) : m.start()], m[1]) for m in QUOTE_TAG.finditer(text)]


# --- The tests -------------------------------------------------------------------------------


def test_the_quote_checker_catches_a_wrong_mean_interval_verdict_or_range():
  interval = object.__new__(Interval)
  interval.__dict__ = dict(mean=0.0123, low=0.0040, high=0.0206, verdict="win")
  assert check_quote("gap +0.0123 [+0.0040, +0.0206] **win**", interval) is None
  assert check_quote("gap +0.0124 [+0.0040, +0.0206] win", interval)
  assert check_quote("gap +0.0123 [+0.0040, +0.0206] tie", interval)
  assert check_quote("by 1.2 pt", pt(0.0123)) is None
  assert check_quote("by 1.3 pt", pt(0.0123))
  assert check_quote("costs 1.36-2.89x", (1.36, 2.89)) is None
  assert check_quote("costs 1.36-2.90x", (1.36, 2.89))
  assert check_quote("only +0.0123", interval) is None and check_quote("only 0.02", interval)
  assert check_quote("(see the table)", 1.0) == "no number before the tag"


def test_the_count_reader_counts_the_cells_it_names():
  """The reader itself, on a table made up here."""
  results = {
    "a_one": "| method | - x at 15 | - x at 100 |\n|---|---|---|\n"
    "| M (1) | +0.1 [+0.0, +0.2] **win** | -0.1 [-0.2, +0.1] tie |\n"
    "| M (1) q | +0.1 [+0.0, +0.2] win | -0.3 [-0.4, -0.2] lose |\n",
    "a_two": "| method | - x at 100 |\n|---|---|\n| M (1) | -0.3 [-0.4, -0.2] **lose** |\n",
    "b": "| method | - x at 100 |\n|---|---|\n| M (1) | +0.3 [+0.2, +0.4] win |\n",
  }
  assert count(r"a_*; M \(1\); at 100", results) == ({"win": 0, "tie": 1, "lose": 1}, 2)
  assert count(r"a_one, b; M \(1\); at 100", results) == ({"win": 1, "tie": 1, "lose": 0}, 2)
  assert count(r"a_one; M.*; at", results)[0] == {"win": 2, "tie": 1, "lose": 1}
  # A named cell without a verdict is counted as a cell: W + T + L then falls short of it.
  assert count(r"c; M.*; x", {"c": "| m | x |\n|---|---|\n| M | (the reference) |\n"})[1] == 1
  with pytest.raises(AssertionError, match="names no table cell"):
    count(r"a_*; nothing; at", results)


def test_every_quoted_number_equals_its_recomputed_value():
  wrong = []
  for source, text in prose().items():
    for quote, expression in quotes(text):
      value = eval(expression, {"__builtins__": {}}, NAMESPACE)  # noqa: S307 (our own tags)
      if (why := check_quote(quote, value)) is not None:
        wrong.append(f"{source}: '{quote.strip()[-50:]}' <- {expression}: {why}")
  assert not wrong, "\n".join(wrong)


def test_every_count_equals_the_count_in_its_tables():
  results = sections()
  for source, text in prose().items():
    untagged = len(ANY_COUNT.findall(text)) - 3 * len(TAGGED.findall(text))
    assert untagged == 0, f"{source}: {untagged} verdict count(s) without a counts tag"
    for match in TAGGED.finditer(text):
      stated = dict(zip(VERDICTS, map(int, match.groups()[:3]), strict=True))
      counted, cells = count(match[4], results)
      assert stated == counted, f"{source}: '{match[0]}'"
      assert sum(stated.values()) == cells, f"{source}: W + T + L is not the cells counted"


def test_every_decimal_number_in_the_prose_is_tagged():
  """No number from a table is quoted without saying where from (tuples of settings, code
  spans and code blocks excepted)."""
  for source, text in prose().items():
    text = re.sub(r"<!-- (?:=|counts:) .*?-->", "\0", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)  # other comments tag nothing
    # Remove each tagged quote (the number just before a tag), code, links' targets, tuples.
    text = re.sub(rf"(?:{QUOTED.pattern[:-1]})\s*\0", "", text.replace("**\0", "\0"))
    text = re.sub(r"```.*?```|^ {4}.*$", "", text, flags=re.S | re.M)  # code blocks
    text = re.sub(rf"`[^`]*`|\]\([^)]*\)|\((?:{NUMBER}, )+{NUMBER}\)", "", text)
    loose = re.findall(r"[^\s]*(?:\d*\.\d+|\d+(?:x|×| pt\b| points?\b))[^\s]*", text)
    assert not loose, f"{source}: numbers quoted without a tag: {loose}"


def test_each_sections_stated_number_of_tests_is_its_verdict_cells():
  """ "N distinct paired tests" is the number of verdict cells its tables hold."""
  for name, text in sections().items():
    stated = re.search(r"(\d+) distinct paired tests", text)
    if stated:
      cells = sum(verdict(c) is not None for t in tables(text) for row in t[1:] for c in row[1:])
      assert int(stated[1]) == cells, f"{name}: says {stated[1]} tests, holds {cells} verdicts"


def test_every_section_names_its_commit_and_every_verdict_table_keeps_its_seeds():
  for name, text in sections().items():
    assert re.search(r"commit [0-9a-f]{7}", text.splitlines()[0]), f"{name}: no commit"
    has_verdicts = any(verdict(c) for t in tables(text) for row in t[1:] for c in row[1:])
    if has_verdicts:
      kept = re.search(r"Per-seed numbers: `benchmarks/results/([\w-]+)\.csv`", text)
      assert kept and (SEEDS / f"{kept[1]}.csv").exists(), f"{name}: no per-seed numbers"


PAIR_METRICS = {
  "final test accuracy difference": "final_test_accuracy",
  "final test loss difference": "final_test_loss",
  "gap difference (lower is better)": "gap",
}


def test_every_comparison_table_recomputes_from_its_per_seed_numbers():
  """Rows "a - b" of the headline tables: each interval, from the CSV, by the rule here."""
  checked = 0
  for name, text in sections().items():
    for header, *body in tables(text):
      if header[0] != "comparison":
        continue
      for row in body:
        a, b = re.sub(r" \(the best peer\)$", "", row[0]).split(" - ")
        if row[0].endswith("(the best peer)"):
          assert b == best_peer(name), f"{name}: {b} is not the peer of best validation accuracy"
        metrics = [(title, metric) for title, metric in PAIR_METRICS.items() if title in header]
        for title, metric in metrics:
          value = diff(name, a, b, metric)
          assert check_quote(row[header.index(title)], value) is None, f"{name}: {row[0]}"
          checked += 1
        if "resolves (80 % power)" in header:
          stated = row[header.index("resolves (80 % power)")]
          assert _agrees(stated, resolution(name, a, b, metrics[0][1])), f"{name}: {row[0]}"
  assert checked, "no comparison table found"


PEERS = ("sgd", "momentum", "adam", "adamw", "adagrad")


def best_peer(section: str) -> str:
  """The Optax optimizer of best mean validation accuracy in the section's per-seed numbers."""
  return max(
    (p for p in PEERS if _has(section, p)), key=lambda p: mean(section, p, "final_val_accuracy")
  )


def _has(section: str, setting: str) -> bool:
  with open(SEEDS / f"{section}.csv") as handle:
    return any(r["setting"] == setting for r in csv.DictReader(handle))
