"""The visit tally of the bulk demo, counted while its visits are made (see app.demo.bulk).

The generator knows every visit it writes: its day, group, door and visitors. Counting the
tally here (a few dictionary updates per visit) replaces a GROUP BY over three million
visits after the load (a minute on either database at county scale). The rows are what
`app.services.tally.rebuild` writes from the visits; `flask minqing rollups check` (and the
bulk demo's test) compares them with a count of the visits.

Households are a visit's grid and door: a bit in an integer per cell (the grid's row: bit
`door`; a visitor's row: bit `(group - village) * 64 + door`, every visitor's visits lying in
the groups of the village whose pool the visitor is drawn from), so a cell keeps one integer
instead of a set of address strings.
"""

from array import array
from datetime import date

from app.models.appeals import (
    CLOSED_STATUSES,
    NO_DUE,
    OPEN_KEYS,
    OPEN_STATUSES,
    ROLLUP_DIMENSIONS,
    STATE_KEYS,
    SUMMARY_KEYS,
    SUMMARY_MEASURES,
    Status,
)
from app.services.tally import COLUMNS as TALLY_COLUMNS
from app.services.tally import GRID_COLUMNS, PERIODS, period_start

DOORS = 64  # bits per group: doors are numbered 1..60
# a cell's key: (period cell id) * _WHO + person or grid id; a prime, not a power of two: an int's hash is
# its value, and a dictionary's first probe its low bits (with 2**32 every cell of one person would collide)
_WHO = 1_000_000_007
_COUNT = 32  # bits of a cell's visits (below its households' bits)
_VISITS = (1 << _COUNT) - 1


class VisitTally:
    """Per visitor and per grid, for each period kind: visits and distinct households."""

    def __init__(self, first_day, last_day):
        days = [date.fromordinal(o) for o in range(first_day.toordinal(), last_day.toordinal() + 1)]
        # the (period, start) cells of the days, numbered in (period, start) order: sorted keys are the
        # tally's primary key order (period, start, who), the order SQLite inserts fastest
        cells = sorted({(period, period_start(period, d).isoformat()) for d in days for period in PERIODS})
        self.cells = cells
        number = {cell: i for i, cell in enumerate(cells)}
        self.first = first_day.toordinal()
        self.keys_of_day = [
            tuple(number[(period, period_start(period, d).isoformat())] * _WHO for period in PERIODS) for d in days
        ]
        # a cell's value: its visits in the low _COUNT bits, its households' bits above them (one
        # dictionary update per cell and visit)
        self.people, self.grids = {}, {}

    def add(self, ordinal, grid_id, village_id, door, visitors):
        """Count one visit made on the day `ordinal` in the group `grid_id` (of `village_id`) at `door`."""
        periods = self.keys_of_day[ordinal - self.first]  # the week's, month's, quarter's and year's cell
        group_bit = 1 << (_COUNT + door)
        person_bit = 1 << (_COUNT + (grid_id - village_id) * DOORS + door)
        for cells, ids, bit in ((self.grids, (grid_id,), group_bit), (self.people, visitors, person_bit)):
            for who in ids:
                for period in periods:
                    key = period + who
                    cells[key] = (cells.get(key, 0) | bit) + 1

    def add_noted(self, noted):
        """Count the visits `noted` (Counts.visits: six numbers a visit)."""
        add = self.add
        numbers = iter(noted)
        for ordinal, grid_id, village_id, door, first, second in zip(*[numbers] * 6, strict=True):
            add(ordinal, grid_id, village_id, door, (first, second) if second else (first,))

    def rows(self, grid=False):
        """The tally's rows (period, start, person or grid id, visits, households) in key order."""
        values = self.grids if grid else self.people
        cells = self.cells
        for key in sorted(values):
            cell, who = divmod(key, _WHO)
            value = values[key]
            yield (*cells[cell], who, value & _VISITS, (value >> _COUNT).bit_count())


class AppealCells:
    """The appeals' four kinds of cells (day, summary, open, state: `app.services.rollups`),
    counted from the generated appeals as `rollups.cell_of`, `summary_of`, `open_of` and
    `state_of` count a row. Only for the rows the generator makes: never deleted, no duplicate,
    no extension, handler and filer empty, not reported by the grid, no petition flags, registered
    where they live (origin grid = grid)."""

    def __init__(self, paths, found):
        self.found = found
        self.anchors = {}  # grid id -> ((anchor, child), ...) of its path, as summary_of pairs them
        for grid_id, path in paths.items():
            ids = [int(part) for part in path.strip("/").split("/")]
            self.anchors[grid_id] = tuple((a, ids[i + 1] if i + 1 < len(ids) else 0) for i, a in enumerate(ids))
        self.days, self.summary, self.open, self.state = {}, {}, {}, {}
        self.measures = {}  # (status, closed on time, satisfaction, found) -> the measures packed in one integer

    def add(self, grid_id, day, month, category_id, channel_id, importance, status, due, closed_on_time,
            satisfaction, supervised):  # fmt: skip
        """Count one appeal: `day` the date it was registered, `month` the first of its month."""
        running = status in OPEN_STATUSES
        escalated = status == Status.ESCALATED  # the generator's escalation_count: 1 when escalated, else 0
        satisfaction = satisfaction or ""
        key = (grid_id, grid_id, day, category_id, channel_id, importance, str(status), False,
               due if running else NO_DUE, escalated, bool(closed_on_time), satisfaction, False,
               bool(supervised) and running, False, 0, 0, False, False, False, False)  # fmt: skip
        self.days[key] = self.days.get(key, 0) + 1
        found = channel_id in self.found
        profile = (status, bool(closed_on_time), satisfaction, found)
        packed = self.measures.get(profile)
        if packed is None:
            packed = self.measures[profile] = _pack(_measures(status, closed_on_time, satisfaction, found))
        summary_due = due if running else NO_DUE
        summary, opened, state = self.summary, self.open, self.state
        status = str(status)
        for anchor, child in self.anchors[grid_id]:
            key = (anchor, child, month, category_id, summary_due)
            summary[key] = summary.get(key, 0) + packed
            key = (anchor, status)
            state[key] = state.get(key, 0) + 1
            if running:
                key = (anchor, status, due, bool(supervised), False)
                opened[key] = opened.get(key, 0) + 1

    def rows(self, kind):
        """The rows of `kind` ('days', 'summary', 'open', 'state'): key columns then counts, in key order."""
        cells = getattr(self, kind)
        if kind == "summary":
            unpacked = {}  # packed measures -> the tuple (most small cells repeat a handful of values)
            for key in sorted(cells):
                packed = cells[key]
                measures = unpacked.get(packed)
                if measures is None:
                    measures = unpacked[packed] = _unpack(packed)
                yield (*key, *measures)
            return
        for key in sorted(cells):
            yield (*key, cells[key])


_BITS = 40  # bits per measure in a packed summary cell (a count never reaches 2**40)
_MASK = (1 << _BITS) - 1


def _measures(status, closed_on_time, satisfaction, found):
    """SUMMARY_MEASURES of one generated appeal (as rollups.summary_of counts them)."""
    closed = status in CLOSED_STATUSES
    escalated = status == Status.ESCALATED
    return (
        1, closed, status in OPEN_STATUSES, escalated, closed and bool(closed_on_time), satisfaction != "",
        satisfaction == "satisfied", satisfaction == "basic", satisfaction == "unsatisfied", False,
        closed and not escalated, False, False, False, False, found,
    )  # fmt: skip


def _pack(values):
    return sum(int(v) << (_BITS * i) for i, v in enumerate(values))


def _unpack(packed):
    return tuple((packed >> (_BITS * i)) & _MASK for i in range(len(SUMMARY_MEASURES)))


class Counts:
    """What the generator notes of each appeal and visit while it writes them, counted into the
    appeal cells and the visit tally by `count` (load_bulk runs it once the rows and their indices are
    written) and written by `write`."""

    def __init__(self, paths, found):
        self.appeals = []  # AppealCells.add's arguments, one tuple an appeal
        self.visits = array("q")  # a visit's day (ordinal), group, village, door, visitor, second visitor or 0
        self.cells = AppealCells(paths, found)
        self.tally = None

    def count(self):
        add = self.cells.add
        for noted in self.appeals:
            add(*noted)
        self.appeals = []
        days = self.visits[0::6]
        self.tally = VisitTally(date.fromordinal(min(days)), date.fromordinal(max(days)))
        self.tally.add_noted(self.visits)
        self.visits = array("q")

    def write(self, writer):
        """The cells and the tally into their tables (after `count`)."""
        cells, tally = self.cells, self.tally
        writer.write("appeal_rollup", (*ROLLUP_DIMENSIONS, "n"), cells.rows("days"))
        writer.write("appeal_summary", SUMMARY_KEYS + SUMMARY_MEASURES, cells.rows("summary"))
        writer.write("appeal_open", (*OPEN_KEYS, "n"), cells.rows("open"))
        writer.write("appeal_state", (*STATE_KEYS, "n"), cells.rows("state"))
        writer.write("visit_tally", TALLY_COLUMNS, tally.rows())
        writer.write("visit_grid_tally", GRID_COLUMNS, tally.rows(grid=True))
