"""History checkers: pure functions of a recorded history (no I/O, no clock)."""

from chaos.checkers.verdict import FAIL, PASS, UNKNOWN, Verdict, worst

__all__ = ["FAIL", "PASS", "UNKNOWN", "Verdict", "worst"]
