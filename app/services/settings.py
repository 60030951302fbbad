"""系统参数: the rule numbers a county changes, edited by the Admin in the browser.

`config.py` (and the environment, local_config.py) keeps the defaults. A `Setting` row overrides
one key for every server: saving writes the row and a new "settings" token in one transaction
(app.services.runtime); each app compares that token with the one it loaded (before each
request, at most every SETTINGS_CHECK_SECONDS, and before each `flask minqing` command) and
overlays the stored values onto its `app.config`, where the code reads them as always
(`current_app.config["APPEAL_DAYS_GENERAL"]`). Only keys that have a row are overlaid; the
value a key had before its first overlay is kept, and put back when its row is deleted.

What may be edited is the registry below (SPECS). Secrets, addresses, security and
infrastructure settings are not in it and stay in config.py.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from flask import current_app
from flask_appbuilder.security.sqla.models import Role
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.core.errors import Collector, DomainError, NotFound
from app.extensions import db
from app.models.lookups import AppealChannel
from app.models.settings import Setting
from app.services import rollups, runtime
from app.services.attachments import verify_kinds
from app.services.dashboard import PRESETS

log = logging.getLogger(__name__)
NAME = "settings"
EXTENSION = "minqing_settings"
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

GROUPS = (
    ("appeals", _l("Appeal handling")),
    ("workflow", _l("Appeal workflow")),
    ("visits", _l("Home visits")),
    ("representatives", _l("People's congress representatives")),
    ("entry", _l("Data entry")),
    ("lists", _l("Lists and exports")),
    ("records", _l("Audit trail")),
)

INT, FLOAT, BOOL, STR, LIST, CHOICE = "int", "float", "bool", "str", "list", "choice"


# -- checks a value must pass besides its type and bounds -----------------------------------


def _regex(value, session):
    try:
        re.compile(value)
    except re.error as exc:
        raise DomainError(_l("Not a valid regular expression: %(error)s", error=str(exc))) from None


def _emails(values, session):
    wrong = [v for v in values if not EMAIL_PATTERN.match(v)]
    if wrong:
        raise DomainError(_l("Not an e-mail address: %(values)s", values="、".join(wrong)))


def _roles(values, session):
    known = set(session.scalars(select(Role.name)))
    unknown = [v for v in values if v not in known]
    if unknown:
        raise DomainError(_l("No such role: %(values)s", values="、".join(unknown)))


def _channels(values, session):
    known = set(session.scalars(select(AppealChannel.name)))
    unknown = [v for v in values if v not in known]
    if unknown:
        raise DomainError(_l("No such collection channel: %(values)s", values="、".join(unknown)))


@dataclass(frozen=True)
class Spec:
    """One editable setting: its config.py key, where it is shown, and what a valid value is."""

    key: str
    group: str
    kind: str  # INT, FLOAT, BOOL, STR, LIST or CHOICE
    label: object
    help: object = ""
    min: float | None = None
    max: float | None = None
    max_length: int = 200  # a text, or each item of a list
    max_items: int = 30
    required: bool = True  # a text may not be empty (a list may always be)
    choices: tuple = ()  # CHOICE: ((value, label), ...)
    verify: object = None  # verify(value, session) raises a DomainError; needs the database
    unit: object = ""

    def parse(self, raw, session=None):
        """The value `raw` (a form's text or an already typed value) stands for, or a
        DomainError at this setting's field. Without `session` the database checks are skipped
        (values read back from the `setting` table)."""
        try:
            value = getattr(self, f"_parse_{self.kind}")(raw)
            if self.verify is not None and session is not None:
                self.verify(value, session)
        except DomainError as err:
            raise DomainError(err.message, field=self.key) from None
        return value

    def _bounds(self, number):
        if self.min is not None and number < self.min:
            raise DomainError(_l("At least %(min)s.", min=_plain_number(self.min)))
        if self.max is not None and number > self.max:
            raise DomainError(_l("At most %(max)s.", max=_plain_number(self.max)))
        return number

    def _parse_int(self, raw):
        if isinstance(raw, bool) or not isinstance(raw, (int, str)):
            raise DomainError(_l("Enter a whole number."))
        try:
            number = int(raw.strip().replace(",", "")) if isinstance(raw, str) else raw
        except ValueError:
            raise DomainError(_l("Enter a whole number.")) from None
        return self._bounds(number)

    def _parse_float(self, raw):
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise DomainError(_l("Enter a number."))
        try:
            number = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except ValueError:
            raise DomainError(_l("Enter a number.")) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise DomainError(_l("Enter a number."))
        return self._bounds(number)

    def _parse_bool(self, raw):
        if isinstance(raw, bool):
            return raw
        text = str(raw or "").strip().lower()
        if text in ("", "0", "false", "no", "off", "n", "否"):
            return False
        if text in ("1", "true", "yes", "on", "y", "是"):
            return True
        raise DomainError(_l("Choose yes or no."))

    def _parse_str(self, raw):
        if not isinstance(raw, str):
            raise DomainError(_l("Enter a text."))
        text = raw.strip()
        if self.required and not text:
            raise DomainError(_l("Enter a value."))
        if len(text) > self.max_length:
            raise DomainError(_l("At most %(n)s characters (this has %(m)s).", n=self.max_length, m=len(text)))
        return text

    def _parse_choice(self, raw):
        text = str(raw or "").strip()
        if text not in {value for value, _label in self.choices}:
            raise DomainError(_l("Choose one of the options."))
        return text

    def _parse_list(self, raw):
        if isinstance(raw, str):
            items = re.split(r"[\r\n,，;；、]+", raw)
        elif isinstance(raw, (list, tuple)):
            items = raw
        else:
            raise DomainError(_l("Enter one value per line."))
        if any(not isinstance(item, str) for item in items):
            raise DomainError(_l("Enter one value per line."))
        values = list(dict.fromkeys(item.strip() for item in items if item.strip()))
        if len(values) > self.max_items:
            raise DomainError(_l("At most %(n)s values.", n=self.max_items))
        long = [v for v in values if len(v) > self.max_length]
        if long:
            raise DomainError(
                _l("At most %(n)s characters each: %(values)s", n=self.max_length, values="、".join(long))
            )
        return values

    def normal(self, value):
        """A default from config.py in the shape a parsed value has (lists, not tuples)."""
        if self.kind == LIST:
            return list(value or ())
        return value

    def text(self, value):
        """How the form shows `value`."""
        if self.kind == LIST:
            return "\n".join(str(v) for v in value or ())
        if self.kind == BOOL:
            return bool(value)
        return "" if value is None else str(value)

    def shown(self, value):
        """How the page shows `value` in a sentence (the default, the current value)."""
        if self.kind == LIST:
            return "、".join(str(v) for v in value or ()) or str(_l("(none)"))
        if self.kind == BOOL:
            return str(_l("Yes") if value else _l("No"))
        if self.kind == CHOICE:
            return str(dict(self.choices).get(value, value))
        return str(value)


def _plain_number(number):
    return int(number) if float(number).is_integer() else number


def _spec(key, group, kind, label, help="", **kw):
    return Spec(key=key, group=group, kind=kind, label=label, help=help, **kw)


DAYS, HOURS, ROWS, SECONDS, TIMES = _l("days"), _l("hours"), _l("rows"), _l("seconds"), _l("person-times")
MONTHS = _l("months")
MEGABYTES, FILES = "MB", _l("files")
GRIDS = _l("grids")

SPECS = {s.key: s for s in (
    _spec("APPEAL_DAYS_GENERAL", "appeals", INT, _l("Days to answer a general appeal"),
          _l("Counted from the day of registration. Appeals already registered keep their deadline."),
          min=1, max=365, unit=DAYS),
    _spec("APPEAL_MONTHS_IMPORTANT", "appeals", INT, _l("Months to answer an important appeal"),
          _l("Calendar months from the day of registration (31 January + 1 month = 28 or 29 February). "
             "Appeals already registered keep their deadline."),
          min=1, max=12, unit=MONTHS),
    _spec("APPEAL_BACKDATE_DAYS", "appeals", INT, _l("Days a registration date may lie back"),
          _l("A paper form typed in later keeps its own date (登记日期), at most this many days back; its number "
             "is of that month. Older forms are imported as historical appeals."), min=0, max=366, unit=DAYS),
    _spec("APPEAL_EVALUATION_REQUIRED", "workflow", BOOL, _l("Archive only after the evaluation"),
          _l("Off: an appeal may be archived once the reply is given, where reporters do not evaluate "
             "(反馈 → 归档)."), required=False),
    _spec("APPEAL_DUE_SOON_DAYS", "appeals", INT, _l("Days before the deadline an appeal counts as due soon"),
          _l("Due-soon appeals are marked in the lists and listed in the daily reminders."),
          min=0, max=60, unit=DAYS),
    _spec("APPEAL_EXTENSION_MAX_DAYS", "appeals", INT, _l("Most days one extension may add"),
          _l("The longest extension a handler may ask for and a leader may approve at a time."),
          min=1, max=365, unit=DAYS),
    _spec("APPEAL_DISCOVERY_CHANNELS", "appeals", LIST, _l("Channels where the grid found the problem itself"),
          _l("One collection channel per line; appeals from these channels count toward the discovery rate."),
          max_length=64, verify=_channels),
    _spec("APPEAL_REMIND_SUMMARY_TO", "appeals", LIST, _l("Who gets the whole reminder list by e-mail"),
          _l("One e-mail address per line (e.g. the 综治办's); empty: nobody gets the whole list, each handler still gets their own."),
          max_length=254, verify=_emails),
    _spec("VISIT_FOLLOW_UP_DAYS_AHEAD", "visits", INT, _l("Days ahead in the follow-ups list"),
          _l("Follow-ups due within this many days are listed with the overdue ones."),
          min=0, max=90, unit=DAYS),
    _spec("ROTA_MAX_DAYS", "visits", INT, _l("Longest period of one rota"),
          _l("A rota (值班轮值) covers at most this many days; its slots are generated for them."),
          min=7, max=1000, unit=DAYS),
    _spec("VISIT_CONTENT_ROLES", "visits", LIST, _l("Roles that read the content of every visit in their scope"),
          _l("One role per line. The visitors and whoever recorded a visit always read it; others see it masked."),
          max_length=64, verify=_roles),
    _spec("REPRESENTATIVE_YEARLY_CONTACTS", "representatives", INT, _l("Voters each representative contacts a year"),
          _l("Person-times: a forum of 12 voters counts 12."), min=1, max=10000, unit=TIMES),
    _spec("REPRESENTATIVE_REPORT_DAYS", "representatives", INT, _l("Days to report an important opinion"),
          _l("An important opinion goes to the chair or vice-chair of the people's congress within this many days."),
          min=1, max=90, unit=DAYS),
    _spec("CONTACT_REPORT_RECIPIENTS", "representatives", LIST, _l("Who important opinions are reported to"),
          _l("One per line; offered when a contact record's report is entered."), max_length=50),
    _spec("ASSESSMENT_MIN_VOTERS", "representatives", INT, _l("Voters a public evaluation needs at least"),
          _l("Assessment: the review meeting's votes (satisfied, fairly satisfied, unsatisfied) add up to at least this; 0: no minimum."),
          min=0, max=100000),
    _spec("CORRECTION_WINDOW_HOURS", "entry", INT, _l("Hours a mistaken entry may still be deleted"),
          _l("Visits, assignments and contact records can be deleted this long after entry; later only corrected."),
          min=0, max=720, unit=HOURS),
    _spec("ATTACHMENT_MAX_MB", "entry", INT, _l("Largest photo or file"),
          _l("Each photo or file added to a visit, appeal or contact record."), min=1, max=100, unit=MEGABYTES),
    _spec("ATTACHMENT_MAX_FILES", "entry", INT, _l("Most photos or files added at once"), min=1, max=50,
          unit=FILES),
    _spec("ATTACHMENT_TYPES", "entry", LIST, _l("Allowed kinds of photos and files"),
          _l("One per line: jpeg, png, gif, webp, pdf. Recognised by their content, not by their name."),
          max_length=10, verify=verify_kinds),
    _spec("PHONE_PATTERN", "entry", STR, _l("Accepted phone numbers (regular expression)"),
          _l("Checked against the number without spaces and without +86."), verify=_regex),
    _spec("DASHBOARD_DEFAULT_PRESET", "lists", CHOICE, _l("The dashboard's default period"),
          _l("The period the dashboard and the accountability table open with."), choices=PRESETS),
    _spec("LIST_PAGE_SIZE", "lists", INT, _l("Rows per list page"), min=5, max=200, unit=ROWS),
    _spec("EXPORT_MAX_ROWS", "lists", INT, _l("Most rows in one Excel export"), min=100, max=1000000, unit=ROWS),
    _spec("EXPORT_JOB_ROWS", "lists", INT, _l("Exports of more rows than this run in the background"),
          _l("The user sees a progress bar and downloads the file when it is ready; 0: never."),
          min=0, max=1000000, unit=ROWS),
    _spec("IMPORT_JOB_KB", "lists", INT, _l("Imported files larger than this are imported in the background"),
          _l("In KB (an Excel file of 2,000 people is about 100 KB); the user sees a progress bar, then the "
             "result or every error of the file; 0: never."), min=0, max=102400, unit=_l("KB")),
    _spec("JOBS_RETRY_ABANDONED", "lists", INT, _l("Times a background job is started again after its worker stopped"),
          _l("A job whose background worker was killed or lost its server is started again by another worker this "
             "many times (nothing of the stopped run is kept); then it is shown as failed with a button to start it "
             "again. 0: shown as failed at once."), min=0, max=5, unit=_l("times")),
    _spec("LIST_FEW_ROWS", "lists", INT, _l("A search matching up to this many rows is paged among its matches"),
          _l("The list first takes the ids of every match in the jurisdiction (which is also its count), then orders "
             "and pages those, instead of reading the date index from the newest row back; more matches than this "
             "are shown as \"2000+\". 0: never. Only for tuning."),
          min=0, max=20000, unit=ROWS),
    _spec("TEXT_INDEX_MOST_ROWS", "lists", INT, _l("A search term found in more rows than this skips the text index"),
          _l("PostgreSQL: when the database estimates that the words searched for are in more records than this "
             "(a very common phrase), it checks the text of the jurisdiction's records instead of reading the text "
             "index. 0: always the index. Only for tuning."),
          min=0, max=100000000, unit=ROWS),
    _spec("SCOPE_ID_LIST_MAX", "lists", INT, _l("Grids a jurisdiction is filtered by one by one"),
          _l("Lists of a jurisdiction of up to this many grids name each grid (PostgreSQL); larger jurisdictions "
             "(a county with thousands of grids) read ranges of grid numbers. Only for tuning."),
          min=1, max=1000000, unit=GRIDS),
    _spec("SCOPE_RANGES_MAX", "lists", INT, _l("Most ranges of grid numbers of a large jurisdiction"),
          _l("A large jurisdiction whose grids were added in more separate batches than this is filtered by a "
             "subquery instead. Only for tuning."), min=1, max=10000),
    _spec("IMPORT_MAX_ROWS", "lists", INT, _l("Most data rows in one imported file"), min=10, max=200000, unit=ROWS),
    _spec("QUOTA_REPORT_MAX_ROWS", "lists", INT, _l("Rows per page of the quota progress report"),
          min=10, max=1000, unit=ROWS),
    _spec("REPRESENTATIVE_REPORT_MAX_ROWS", "lists", INT, _l("Rows per page of the representatives' progress report"),
          min=10, max=1000, unit=ROWS),
    _spec("REGISTER_PRINT_MAX_ROWS", "lists", INT, _l("Most entries in one printed ledger"),
          min=10, max=20000, unit=ROWS),
    _spec("AUDIT_RETENTION_DAYS", "records", INT, _l("Days the audit trail is kept"),
          _l("Older entries are deleted each night (by the scheduler); 0: kept for ever. Check the rules on "
             "keeping records before shortening it."), min=0, max=36500, unit=DAYS),
    _spec("PARTITION_MONTHS_AHEAD", "records", INT, _l("Months of partitions made ahead"),
          _l("PostgreSQL only: each night the audit trail and the appeals' steps get a partition for this month "
             "and this many months ahead; rows of a month without one wait in a default partition and are "
             "moved."), min=1, max=60, unit=MONTHS),
)}  # fmt: skip


def spec_of(key):
    spec = SPECS.get(key)
    if spec is None:
        raise NotFound(_l("There is no setting %(key)s.", key=key))
    return spec


def group_specs(group):
    return [s for s in SPECS.values() if s.group == group]


# -- the overlay: stored values onto app.config ------------------------------------------------


class _Overlay:
    """One app's stored overrides: which keys it overlaid, and the values they had before."""

    def __init__(self, app):
        self.app = app
        self.saved = {}  # key -> the app's own value, while a stored one overrides it
        self.generation = runtime.Generation(NAME, self._load, self._interval, app=app)

    def _interval(self):
        return float(self.app.config.get("SETTINGS_CHECK_SECONDS", 1))

    def _load(self, session, token):
        with session.no_autoflush:
            rows = dict(session.execute(select(Setting.key, Setting.value)).all())
        stored = {}
        for key, value in rows.items():
            spec = SPECS.get(key)
            if spec is None:
                continue
            try:
                stored[key] = spec.parse(value)
            except DomainError as err:  # a value an older version allowed: the default stands
                log.warning("setting %s ignored: %r (%s)", key, value, err)
        self.apply(stored)
        log.info("settings loaded (%s): %s", token[:8], ", ".join(sorted(stored)) or "defaults")

    def apply(self, stored):
        """Overlay `stored` ({key: value}); keys overlaid before and absent now get their own
        value back. One dict update: a request in another thread sees each key old or new."""
        with self.generation.lock:
            updates = {}
            for key in SPECS:
                if key in stored:
                    if key not in self.saved:
                        self.saved[key] = self.app.config.get(key)
                    updates[key] = stored[key]
                elif key in self.saved:
                    updates[key] = self.saved.pop(key)
            self.app.config.update(updates)

    def default(self, key):
        with self.generation.lock:
            if key in self.saved:
                return self.saved[key]
            return self.app.config.get(key)


def init_app(app):
    """Give `app` its overlay (create_app); `refresh` before each request keeps it current."""
    app.extensions[EXTENSION] = _Overlay(app)


def _overlay(app=None):
    return (app or current_app).extensions[EXTENSION]


def ensure_current(session=None, force=False, app=None):
    """Overlay the stored values if they changed since this app loaded them; returns the token."""
    return _overlay(app).generation.ensure_current(session or db.session, force=force)


def refresh():
    """Before each request (and each CLI command): pick up settings changed on any server."""
    ensure_current()


def restore_defaults(app=None):
    """Give every overlaid key its own value back and load again on the next check (tests,
    after they emptied the tables)."""
    overlay = _overlay(app)
    overlay.apply({})
    overlay.generation.forget()


def default_of(key, app=None):
    """The value `key` has without a stored override (config.py's, or what the app was made with)."""
    return SPECS[key].normal(_overlay(app).default(key))


# -- reading and writing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    spec: Spec
    default: object
    value: object  # the value in force (the stored one, or the default)
    overridden: bool


def listing(session, app=None):
    """[(group, title, [Item, ...]), ...]: every setting with its default and current value."""
    stored = dict(session.execute(select(Setting.key, Setting.value)).all())
    out = []
    for group, title in GROUPS:
        items = []
        for spec in group_specs(group):
            default = default_of(spec.key, app)
            value = default
            if spec.key in stored:
                try:
                    value = spec.parse(stored[spec.key])
                except DomainError:  # ignored by the overlay too (logged there)
                    pass
            items.append(Item(spec, default, value, spec.key in stored))
        out.append((group, title, items))
    return out


def check(session, raw):
    """{key: value} parsed from `raw` ({key: text or value}); every problem at once."""
    errors = Collector()
    values = {}
    for key, text in raw.items():
        with errors.check():
            values[key] = spec_of(key).parse(text, session)
    errors.raise_if_any()
    return values


def _describe(row, spec, default):
    row.title = str(spec.label)
    row.default = default
    return row


def save(session, raw):
    """Check every value of `raw` ({key: text or value}), then store those that changed: a value
    equal to its default removes the override. All or nothing; the caller commits (one unit of
    work). Returns the keys changed; every server applies them on its next check."""
    values = check(session, raw)
    rows = {row.key: row for row in session.scalars(select(Setting).where(Setting.key.in_(list(values))))}
    changed = []
    for key, value in values.items():
        spec = SPECS[key]
        default = default_of(key)
        row = rows.get(key)
        if value == default:
            if row is not None:
                session.delete(_describe(row, spec, default))
                changed.append(key)
        elif row is None:
            session.add(_describe(Setting(key=key, value=value), spec, default))
            changed.append(key)
        elif row.value != value:
            _describe(row, spec, default).value = value
            changed.append(key)
    if changed:
        _recount_for(session, changed, values)
        runtime.bump(session, NAME)
    return changed


# settings a kept figure depends on: the figure is counted again once the change commits (a job)
DISCOVERY = "APPEAL_DISCOVERY_CHANNELS"


def _recount_for(session, keys, values):
    if DISCOVERY in keys:  # the summary cells' 发现 column counts the channels this setting names
        rollups.found_changed(session, values[DISCOVERY])


def stored_value(session, key):
    """The value of `key` the database holds now (its stored override, else its default), whatever
    this process has overlaid so far: what a job counts by."""
    raw = session.scalar(select(Setting.value).where(Setting.key == key))
    if raw is not None:
        try:
            return SPECS[key].parse(raw)
        except DomainError:  # ignored by the overlay too
            pass
    return default_of(key)


def reset(session, key):
    """Remove the override of `key`: config.py's value is in force again. False if there was none."""
    spec = spec_of(key)
    row = session.get(Setting, key)
    if row is None:
        return False
    session.delete(_describe(row, spec, default_of(key)))
    _recount_for(session, (key,), {key: default_of(key)})
    runtime.bump(session, NAME)
    return True
