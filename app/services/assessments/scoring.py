"""The arithmetic of the 百分制考核 (seed 003), with no database in sight.

* An automatic item earns its full points when its figure (a rate) is at or above `full_at` %,
  nothing at or below `zero_at` %, and a straight line in between (full_at 100 and zero_at 0:
  points × rate, "量化积分").
* 群众评价: votes 满意 / 一般满意 / 不满意 count 5 / 4 / 3 ("以满意5分、一般满意4分、不满意3分为基数，按得票数
  比例计分"): the vote score is the average of the bases weighted by the votes; an item worth
  other than 5 points gets that share of its points (score / best base).
* A member's score is the team's items plus the member's own items ("工作队的工作业绩考核评分与队员的
  思想作风表现考核评分之和"); a team's score is its items plus the average of its members' own items;
  a unit's score is the average of its teams' scores ("各工作队的考核总分之平均分").

Every score is rounded to two decimals once, where it is stored.
"""

from __future__ import annotations

from decimal import Decimal

DEFAULT_VOTE_BASES = (Decimal(5), Decimal(4), Decimal(3))


def _num(value, default=None):
    if value is None:
        return default
    return float(value)


def rounded(value):
    return None if value is None else round(float(value) + 0.0, 2)


def rate_points(points, figure, full_at=100, zero_at=0):
    """Points earned by a rate `figure` (a fraction, 0.85) under the linear rule; None without data."""
    if figure is None:
        return None
    points = _num(points)
    full = _num(full_at, 100.0)
    zero = _num(zero_at, 0.0)
    percent = figure * 100
    if percent >= full:
        return points
    if percent <= zero:
        return 0.0
    return points * (percent - zero) / (full - zero)


def vote_score(satisfied, basic, unsatisfied, bases=DEFAULT_VOTE_BASES):
    """The vote-weighted average of the bases (30/15/5 → 4.5), or None when nobody voted."""
    counts = [int(satisfied or 0), int(basic or 0), int(unsatisfied or 0)]
    total = sum(counts)
    if total <= 0:
        return None
    return sum(float(b) * n for b, n in zip(bases, counts, strict=True)) / total


def vote_points(points, satisfied, basic, unsatisfied, bases=DEFAULT_VOTE_BASES):
    """(vote score, points earned): the item's points in the ratio of the score to the best base."""
    score = vote_score(satisfied, basic, unsatisfied, bases)
    if score is None:
        return None, None
    best = max(float(b) for b in bases)
    return score, _num(points) * score / best if best else 0.0


def total(points):
    """The sum of the items that could be scored (None: none could)."""
    known = [p for p in points if p is not None]
    return sum(known) if known else None


def average(values):
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def member_score(team_points, own_points):
    """A member: the team's items plus their own."""
    return total([total(team_points), total(own_points)])


def team_score(team_points, members_own_points):
    """A team: its items plus the average of its members' own items (each member's own total)."""
    return total([total(team_points), average([total(own) for own in members_own_points])])


def unit_score(team_scores):
    """A unit: the average of its teams' scores."""
    return average(team_scores)


def ranks(scores):
    """Competition ranks (1, 1, 3) of `scores` (highest first); None scores get no rank."""
    ordered = sorted((s for s in scores if s is not None), reverse=True)
    first = {}
    for position, value in enumerate(ordered, start=1):
        first.setdefault(value, position)
    return [first.get(s) if s is not None else None for s in scores]
