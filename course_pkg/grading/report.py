"""The grade report of one notebook: dataclasses, the terminal table and the JSON form.

Everything a learner's notebook can put into a report (failure messages, cell sources, error
texts) goes through :func:`safe_text` before it reaches a terminal: control bytes (ESC, BEL,
NUL, carriage returns...) are shown escaped, so a submission cannot clear the screen or draw a
forged table.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: C0/C1 control characters except newline and tab, DEL, and bidirectional overrides
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def safe_text(text: object) -> str:
    r"""``text`` with every control character written as ``\xNN`` / ``\uNNNN`` (newlines and
    tabs kept): safe to print on a terminal."""
    def esc(m: re.Match) -> str:
        c = ord(m.group())
        return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"

    return _CONTROL.sub(esc, str(text))


@dataclass
class TestCaseReport:
    name: str
    hidden: bool
    passed: bool
    message: str


@dataclass
class RuleReport:
    """A question's rule ("closed form, not autograd"): kept or broken, and how it is enforced
    (``"construction"``: the forbidden thing is absent while grading; ``"source"``: read from
    the notebook's code; ``"behaviour"``: measured while the function runs)."""

    rule: str
    kept: bool
    how: str
    message: str


@dataclass
class QuestionReport:
    """Score of one question; ``error`` says why its tests could not run (timeout, crash...)."""

    name: str
    score: float
    max: float
    tests: list[TestCaseReport] = field(default_factory=list)
    error: str | None = None
    rules: list[RuleReport] = field(default_factory=list)


@dataclass
class CellIssue:
    """A learner cell that was skipped because it failed."""

    cell: int  # 1-based position in the notebook (markdown cells included)
    status: str  # "error" | "timeout" | "dead" | "memory" | "not run"
    message: str
    source: str  # first line of the cell


@dataclass
class GradeReport:
    notebook: str
    exercise: str
    questions: list[QuestionReport]
    cells: list[CellIssue]
    total: float
    max: float
    seconds: float
    messages: list[str] = field(default_factory=list)
    sandboxed: bool = False

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max if self.max else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["percent"] = round(self.percent, 2)
        d["seconds"] = round(self.seconds, 2)
        return d

    def table(self) -> str:
        """Per-question table, total, then what to do about each failing test and broken rule
        (terminal-safe: see :func:`safe_text`)."""
        lines = [f"{self.notebook}  (exercise {self.exercise})", ""]
        lines.append(f"{'question':<10}{'score':>8}{'max':>8}   tests passed")
        for q in self.questions:
            passed = sum(t.passed for t in q.tests)
            note = f"{passed}/{len(q.tests)}" if q.tests else "-"
            broken = [r for r in q.rules if not r.kept]
            if broken:
                note += f"   rule broken: {len(broken)}"
            if q.error:
                note += f"   ({q.error})"
            lines.append(f"{q.name:<10}{_fmt(q.score):>8}{_fmt(q.max):>8}   {note}")
        lines.append(f"{'total':<10}{_fmt(self.total):>8}{_fmt(self.max):>8}   "
                     f"{self.percent:.1f} %")
        failing = [(q.name, t) for q in self.questions for t in q.tests if not t.passed]
        if failing:
            lines += ["", "Failing tests:"]
            for qname, t in failing:
                kind = "hidden" if t.hidden else "public"
                lines.append(f"  {qname} {t.name} ({kind}): {t.message}")
        rules = [(q.name, r) for q in self.questions for r in q.rules]
        if rules:
            lines += ["", "Rules (a broken rule scores its question 0):"]
            for qname, r in rules:
                state = "kept" if r.kept else "BROKEN"
                lines.append(f"  {qname} [{state}] {r.rule}" + ("" if r.kept else
                                                               f": {r.message}"))
        if self.cells:
            lines += ["", "Skipped cells (their definitions are missing while grading):"]
            for c in self.cells:
                lines.append(f"  cell {c.cell} [{c.status}] {c.message}\n      > {c.source}")
        for m in self.messages:
            lines += ["", m]
        return safe_text("\n".join(lines))


def _fmt(x: float) -> str:
    return f"{x:g}" if float(x).is_integer() else f"{x:.2f}"


def default_json_path(notebook: str | Path) -> Path:
    """``grades/<notebook stem>.json`` under the current directory."""
    return Path("grades") / f"{Path(notebook).stem}.json"


def write_json(report: GradeReport, out: str | Path) -> Path:
    """Write the JSON report atomically (a temporary file renamed over ``out``); works for any
    file name the file system accepts (the temporary name is short)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return out


__all__ = ["CellIssue", "GradeReport", "QuestionReport", "RuleReport", "TestCaseReport",
           "default_json_path", "safe_text", "write_json"]
