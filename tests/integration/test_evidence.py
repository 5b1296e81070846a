"""The evidence's prose against its tables: a rerun cannot leave a summary behind.

The benchmark scripts write the tables of ``benchmarks/RESULTS.md`` (between ``<!-- name:start
-->`` and ``<!-- name:end -->``); people write the summaries around them and README's
"What the evidence says". A summary states verdict counts in one form, "W wins, T ties and L
losses", followed by a hidden tag saying which cells it counts::

  3 wins, 16 ties and 5 losses<!-- counts: paper_protocol_*; INDIAN \\(0\\.5, 0\\.1\\); at 100 -->

(sections as globs separated by commas; the first cell of the rows as a regular expression,
matched whole; the columns' headers as a regular expression, searched). Intervals are quoted
as the tables print them, so each can be found there.
"""

import fnmatch
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
README = ROOT / "README.md"

SECTION = re.compile(r"<!-- ([\w-]+):start -->\n(.*?)<!-- \1:end -->", re.S)
COUNT = re.compile(r"(\d+) wins?, (\d+) ties? and (\d+) loss(?:es)?")
TAGGED = re.compile(COUNT.pattern + r"\s*<!-- counts: (.*?) -->")
INTERVAL = re.compile(r"\[[+-]\d+\.\d+, [+-]\d+\.\d+\]")
VERDICTS = ("win", "tie", "lose")


def sections(text: str) -> dict[str, str]:
  return {match[1]: match[2] for match in SECTION.finditer(text)}


def summaries() -> dict[str, str]:
  """The hand-written text: RESULTS.md outside the sections, README's evidence section."""
  readme = README.read_text()
  evidence = re.search(r"^## What the evidence says.*?(?=^## )", readme, re.S | re.M)
  assert evidence, "README.md has no 'What the evidence says' section"
  return {"RESULTS.md": SECTION.sub("", RESULTS.read_text()), "README.md": evidence[0]}


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


def verdict(cell: str) -> str | None:
  words = cell.replace("*", " ").split()
  return words[-1] if words and words[-1] in VERDICTS else None


def count(where: str, results: dict[str, str]) -> dict[str, int]:
  """The verdicts in the cells a tag names (``sections; rows; columns``)."""
  glob, rows, columns = (part.strip() for part in where.split(";"))
  counts, cells = dict.fromkeys(VERDICTS, 0), 0
  names = [name for pattern in glob.split(",") for name in fnmatch.filter(results, pattern.strip())]
  for name in dict.fromkeys(names):
    for header, *body in tables(results[name]):
      picked = [i for i, title in enumerate(header) if re.search(columns, title)]
      for row in body:
        if re.fullmatch(rows, row[0].replace("*", "").strip()):
          for i in picked:
            cells += 1
            if (found := verdict(row[i])) is not None:
              counts[found] += 1
  assert cells, f"the tag '{where}' names no table cell of RESULTS.md"
  return counts


def test_the_tag_reader_counts_the_cells_it_names():
  """The reader itself, on a table made up here."""
  results = {
    "a_one": "| method | - x at 15 | - x at 100 |\n|---|---|---|\n"
    "| M (1) | +0.1 [+0.0, +0.2] **win** | -0.1 [-0.2, +0.1] tie |\n"
    "| M (1) q | +0.1 [+0.0, +0.2] win | -0.3 [-0.4, -0.2] lose |\n",
    "a_two": "| method | - x at 100 |\n|---|---|\n| M (1) | -0.3 [-0.4, -0.2] **lose** |\n",
    "b": "| method | - x at 100 |\n|---|---|\n| M (1) | +0.3 [+0.2, +0.4] win |\n",
  }
  assert count(r"a_*; M \(1\); at 100", results) == {"win": 0, "tie": 1, "lose": 1}
  assert count(r"a_one, b; M \(1\); at 100", results) == {"win": 1, "tie": 1, "lose": 0}
  assert count(r"a_one; M.*; at", results) == {"win": 2, "tie": 1, "lose": 1}
  with pytest.raises(AssertionError, match="names no table cell"):
    count(r"a_*; nothing; at", results)


def test_every_count_in_a_summary_says_which_cells_it_counts():
  for source, text in summaries().items():
    untagged = len(COUNT.findall(text)) - len(TAGGED.findall(text))
    assert untagged == 0, f"{source}: {untagged} verdict count(s) without a counts tag"


def test_every_count_in_a_summary_equals_the_count_in_its_tables():
  results = sections(RESULTS.read_text())
  for source, text in summaries().items():
    for match in TAGGED.finditer(text):
      stated = dict(zip(VERDICTS, map(int, match.groups()[:3]), strict=True))
      assert stated == count(match[4], results), f"{source}: '{match[0]}'"


def test_every_interval_a_summary_quotes_is_in_a_table():
  measured = "\n".join(sections(RESULTS.read_text()).values())
  for source, text in summaries().items():
    for interval in INTERVAL.findall(text):
      assert interval in measured, f"{source} quotes {interval}, found in no section"
