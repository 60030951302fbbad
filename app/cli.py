"""`flask --app run.py minqing ...`: setup, demo data and user accounts, for IT staff and cron."""

import datetime as dt
import functools
import json
import os
import secrets
import sys

import click
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import AppGroup
from flask_migrate import upgrade
from sqlalchemy import func, select

from app.core import jobs, schedule
from app.core.errors import DomainError
from app.core.mail import mail_configured
from app.core.nodes import init_lock
from app.core.storage import LocalStorage, storage
from app.demo import demo_logins, load_demo
from app.demo.bulk import POSTGRESQL_ONLY, load_bulk
from app.extensions import db
from app.models.grids import Grid
from app.security import sync_roles
from app.services import appeals as appeal_service
from app.services import (
    attachment_bin,
    backup_files,
    follow_ups,
    periodic,  # noqa: F401 - registers the periodic job kinds
    search,
    tally,
)
from app.services import rollups as appeal_rollups
from app.services import settings as settings_service
from app.services.appeals import system_actor
from app.services.assessments import seed_default_scheme
from app.services.backup import BackupError, backup, check_revision, restore, revision_of
from app.services.importer import import_file, template_bytes
from app.services.lookups import seed_lookups
from app.services.quotas import cells as quota_cells
from app.services.registers import definitions, extensions, packages, runtime
from app.services.registers import rollups as register_rollups
from app.services.registers.packages import seed_registers
from app.services.representatives import contact_tally
from app.services.users import create_user


class SettingsGroup(AppGroup):
    """Its commands run with the settings (系统参数) stored in the database, as the web does."""

    def command(self, *args, **kwargs):
        register = super().command(*args, **kwargs)

        def decorator(callback):
            @functools.wraps(callback)
            def with_stored_settings(*a, **kw):
                settings_service.refresh()  # nothing stored yet (a database before init): the defaults
                db.session.commit()  # end its read: a migration must not wait on it
                return callback(*a, **kw)

            return register(with_stored_settings)

        return decorator


minqing = SettingsGroup("minqing", help="MinQing setup and maintenance.")


def register_cli(app):
    app.cli.add_command(minqing)


def _say(text):
    click.echo(text)


@minqing.command("init")
@click.option("--demo-if-empty", is_flag=True, help="Load demo data when there are no grids yet.")
def init_command(demo_if_empty):
    """Upgrade the schema, seed lookups and roles, make sure an admin exists (idempotent).

    Servers starting together run it one at a time (a PostgreSQL advisory lock)."""

    with init_lock(db.engine):
        _init(demo_if_empty)


def _init(demo_if_empty):
    upgrade()
    seed_lookups(db.session)
    db.session.commit()
    sync_roles(current_app.appbuilder)
    seed_default_scheme(db.session)  # 百分制考核 of seed 003
    seeded = seed_registers(db.session)
    extensions.ensure_definitions(db.session)  # 扩展字段: one (empty) definition per built-in record
    db.session.commit()
    definitions.sync_all_schemas(db.session)  # indexes a newer version adds, for the data already there
    db.session.commit()
    if not search.ensure_indexes(db.session.connection()):  # pg_trgm installed by the DBA after the upgrade
        _say(search.PG_TRGM_MISSING)
    db.session.commit()
    if seeded.created:
        _say(f"台账：新建 {seeded.created} 项（说事登记簿等）。Registers seeded: {seeded.created}.")
    _ensure_admin()
    if demo_if_empty and db.session.scalar(select(func.count()).select_from(Grid)) == 0:
        summary = load_demo(db.session, current_app.appbuilder.sm)
        _print_demo(summary)
    _say("MinQing is ready.")


def _ensure_admin():
    sm = current_app.appbuilder.sm
    admin_role = sm.find_role(current_app.config["AUTH_ROLE_ADMIN"])
    has_admin = db.session.scalar(
        select(func.count()).select_from(sm.user_model).where(sm.user_model.roles.contains(admin_role))
    )
    if has_admin:
        return
    password = current_app.config.get("ADMIN_PASSWORD") or ""
    generated = not password
    if generated:
        password = "MQ" + secrets.token_urlsafe(9) + "@79x"
    user = sm.add_user("admin", "系统管理员", "", "admin@minqing.local", admin_role, password)
    if not user:
        raise click.ClickException("could not create the admin user")
    if generated:
        _say("=" * 64)
        _say("管理员账号 Administrator:  admin")
        _say(f"初始密码   Password:       {password}")
        _say("此密码只显示这一次，请登录后立即修改。This password is shown once: change it after login.")
        _say("=" * 64)
    else:
        _say("Administrator 'admin' created with the password from MINQING_ADMIN_PASSWORD.")


def _print_demo(summary):
    _say(f"Demo data: {summary['grids']} grids, {summary['people']} people, {summary['assignments']} assignments.")
    if "visits" in summary:
        _say(
            f"           {summary['visits']} visits, {summary['representatives']} representatives with contact records."
        )
    if summary.get("appeals"):
        _say(f"Demo appeals: {summary['appeals']}.")
    _say("演示账号 Demo logins (password 密码: {}):".format(current_app.config["DEMO_PASSWORD"]))
    for username, role, where in summary["logins"]:
        _say(f"  {username:<12} {role:<15} {where}")


@minqing.command("demo")
@click.option(
    "--scale",
    type=click.Choice(["small", "medium", "county", "city", "tiny"]),
    default="small",
    show_default=True,
    help="small: ~30 villages through the real workflow; medium / county: bulk-generated "
    "(county: 10,000 grids, 200,000 people, 1M appeals, 3M visits, 5,000 representatives; city, "
    "PostgreSQL only: 10 counties, 100,000 grids, 2M people, 10M appeals, 30M visits).",
)
def demo_command(scale):
    """Load demo data into an empty database (default: a county, 3 townships, ~30 villages, ~500 people)."""

    if db.session.scalar(select(func.count()).select_from(Grid)):
        raise click.ClickException("The database already holds grids; demo data goes into an empty one.")
    if scale in POSTGRESQL_ONLY and db.session.get_bind().dialect.name != "postgresql":
        raise click.ClickException(
            f"“{scale}”规模的演示数据只能装入 PostgreSQL（SQLite 需要数小时和几十 GB 的文件）。"
            f"The {scale} scale is for PostgreSQL only (on SQLite it would take hours and tens of gigabytes)."
        )
    if scale == "small":
        summary = load_demo(db.session, current_app.appbuilder.sm)
    else:
        summary = load_bulk(db.session, current_app.appbuilder.sm, scale, progress=_say)
    _print_demo(summary)


@minqing.command("rebuild-tallies")
def rebuild_tallies_command():
    """Count the visit tally (what the quotas read) again from the visits: after a bulk
    load, a restore from another version, or hand-made SQL on the visits."""

    rows = tally.rebuild(db.session)
    quota_cells.rebuild(db.session)  # they are counted from the tally
    contact_tally.rebuild(db.session)  # the representatives' contacts, a tally too
    db.session.commit()
    _say(f"走访统计已按走访记录重新计算：{rows} 行。Visit tally counted again from the visits: {rows} rows.")


@minqing.command("create-user")
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    help="Admin, Clerk, GridWorker, Leader or Representative; repeat for several.",
)
@click.option("--grid", "grid_code", help="Code of the grid whose subtree the user works in.")
@click.option("--name", help="The person's name (default: the username).")
@click.option("--email")
@click.option("--post", "post_name", help="Post held in the grid (default: 工作人员).")
def create_user_command(username, password, roles, grid_code, name, email, post_name):
    """Create a login, link or create its person, and assign the grid."""

    try:
        user, person = create_user(
            db.session, current_app.appbuilder.sm, username, password, list(roles),
            grid_code=grid_code, name=name, email=email, post_name=post_name,
        )  # fmt: skip
    except DomainError as err:
        db.session.rollback()
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    where = f" in grid {grid_code}" if grid_code else ""
    _say(f"Created user {user.username} ({', '.join(roles)}){where}.")


@minqing.command("remind")
@click.option("--date", "on", help="Judge deadlines on this day, YYYY-MM-DD (default: today).")
@click.option("--no-mail", is_flag=True, help="Only print, even when MAIL_SERVER is set.")
def remind_command(on, no_mail):
    """List overdue and due-soon appeals per handler (run daily from cron); mail them
    when MAIL_SERVER is configured."""

    day = None
    if on:
        try:
            day = dt.date.fromisoformat(on)
        except ValueError as exc:
            raise click.BadParameter("YYYY-MM-DD", param_hint="--date") from exc
    groups = appeal_service.reminders(db.session, day)
    report, _ = appeal_service.reminder_texts(groups, day)
    _say(report)
    if no_mail or not mail_configured():
        return
    try:
        sent = appeal_service.send_reminders(groups, day)
    except OSError as exc:  # smtplib errors are OSErrors: cron should see a failure
        click.echo(f"Mail failed: {exc}", err=True)
        sys.exit(2)
    _say(f"Mails sent: {sent}")


@minqing.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker_command(burst):
    """Run the jobs queued in Redis (JOBS_REDIS_URL): exports, imports, reminders, rebuilds."""
    if not current_app.config.get("JOBS_REDIS_URL"):
        raise click.ClickException(
            "JOBS_REDIS_URL 未设置：任务在 Web 进程中运行，无需 worker。"
            "JOBS_REDIS_URL is not set: jobs run inside the web server, no worker is needed."
        )
    jobs.work(burst=burst)


@minqing.command("scheduler")
@click.option("--once", is_flag=True, help="Start what is due now, then stop.")
def scheduler_command(once):
    """Start the periodic work of SCHEDULE once per deployment (a PostgreSQL advisory lock
    elects one node; the others wait as standbys)."""
    held = schedule.serve(once=once)
    if once and not held:
        _say("另一节点正在调度，本节点待命。Another node schedules; this one is a standby.")


@minqing.command("enqueue")
@click.argument("kind")
def enqueue_command(kind):
    """Start a job of KIND (remind, rebuild-tallies, prune-jobs, prune-audit, create-partitions) as the system."""
    if kind not in jobs.SYSTEM_KINDS:
        raise click.BadParameter(", ".join(sorted(jobs.SYSTEM_KINDS)))
    job_id = jobs.enqueue(kind, title=kind)
    state = jobs.load(job_id).public()
    _say(f"{job_id} {state['status']} {state['message'] or state['error']}")


@minqing.command("info")
@click.option("--url", default="http://127.0.0.1:8080/", show_default=True)
def info_command(url):
    """Print where MinQing listens and how to log in."""

    _say("")
    _say(f"民情通 MinQing: {url}")
    _say("管理员 Administrator: admin（密码见首次初始化时的输出，或设置 MINQING_ADMIN_PASSWORD 后初始化）")
    logins = demo_logins(db.session, current_app.appbuilder.sm)
    if logins:
        _say("演示账号 Demo logins (password 密码: {}):".format(current_app.config["DEMO_PASSWORD"]))
        for username, role in logins:
            _say(f"  {username:<12} {role}")
    _say("")


NOT_LOCAL_STORE = (
    "附件存放在对象存储（不是本地目录），不包含在此备份中：请用对象存储自身的备份或版本功能备份存储桶。"
    "The attachment store is not a local directory: back up its bucket by the store's own means."
)


@minqing.command("backup")
@click.argument("path")
def backup_command(path):
    """Write a consistent copy of the whole database to PATH (safe while running), and the
    attachment files to PATH.files.tar (a local attachment directory)."""

    try:
        backup(db.engine, path)
    except BackupError as err:
        raise click.ClickException(str(err)) from err
    _say(f"Backup written to {path} ({os.path.getsize(path)} bytes).")
    store = storage()
    if not isinstance(store, LocalStorage):
        _say(NOT_LOCAL_STORE)
        return
    archive, count = backup_files.backup_files(store, path)
    _say(f"附件 {count} 个已写入 {archive}。{count} attachment file(s) written to {archive}.")


@minqing.command("restore")
@click.argument("path")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(path, yes):
    """Replace the whole database with the backup at PATH, and the attachment files with
    PATH.files.tar when it exists (checked before anything changes). Stop the app first."""

    if not yes:
        click.confirm(f"This replaces ALL data with {path}. 将用备份覆盖全部数据，确定吗?", abort=True)
    db.session.remove()
    script = _migrations()
    head = script.get_current_head()
    store = storage()
    local = isinstance(store, LocalStorage)
    staging = None
    try:
        revision = revision_of(db.engine, path)  # a file that is no backup of ours is refused here
        older = check_revision(revision, head, {rev.revision for rev in script.walk_revisions()})
        if local:  # the files are checked and unpacked before the database is touched
            staging = backup_files.stage_files(store, path)
        restore(db.engine, path)
    except BackupError as err:
        backup_files.discard(staging)
        raise click.ClickException(str(err)) from err
    if staging is not None:
        backup_files.swap_in(store, staging)
        _say("附件已恢复为备份时的状态。The attachment files are as they were at backup time.")
    elif local:
        _say(
            "这个备份没有附件归档，附件目录未改动；请运行 `minqing attachments check` 检查。"
            "This backup holds no attachment archive: the files were left as they are (run `minqing attachments check`)."
        )
    else:
        _say(NOT_LOCAL_STORE)
    if older:
        upgrade()
        _say(f"Restored from {path} (schema {revision}, now upgraded to {head}).")
    else:
        _say(f"Restored from {path}.")


def _migrations():
    config = AlembicConfig()
    config.set_main_option("script_location", current_app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config)


# the kinds of app.services.importer.IMPORTERS (listed here: the CLI loads before the models)
IMPORT_KINDS = ["grids", "people", "posts", "assignments", "representatives", "appeals"]


@minqing.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(kind, path):
    """Import an Excel file (all rows or none). `minqing template KIND` writes a blank one."""

    with open(path, "rb") as fh:
        result = import_file(db.session, kind, fh, current_app.config["IMPORT_MAX_ROWS"], actor=system_actor())
    if not result.ok:
        click.echo(f"Nothing imported: {len(result.errors)} error(s). 未导入，错误如下：", err=True)
        for row, column, message in result.errors:
            click.echo(f"  row {row}  {column}: {message}", err=True)
        sys.exit(1)
    _say(f"Imported {result.created} {kind}.")


@minqing.command("template")
@click.argument("kind", type=click.Choice(IMPORT_KINDS))
@click.argument("path")
def template_command(kind, path):
    """Write the Excel template of KIND (Chinese headers, an example row) to PATH."""

    with open(path, "wb") as fh:
        fh.write(template_bytes(kind).read())
    _say(f"Template written to {path}.")


registers = SettingsGroup("registers", help="Registers (台账): configuration packages and roll-ups.")
minqing.add_command(registers)


@registers.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def registers_export_command(path):
    """Write every register definition, its fields and choice lists to PATH (JSON)."""
    package = packages.export_package(db.session)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(package, fh, ensure_ascii=False, indent=1)
    _say(f"已导出 {len(package['registers'])} 本台账。Exported {len(package['registers'])} registers to {path}.")


@registers.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def registers_import_command(path):
    """Create or update the registers of a package (importing it twice changes nothing)."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        report = packages.import_package(db.session, data)
        db.session.commit()
    except DomainError as err:
        db.session.rollback()
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    _say(f"{report.summary()} / created {report.created}, updated {report.updated}, unchanged {report.unchanged}.")


@registers.command("rollups")
@click.argument("action", type=click.Choice(["check", "rebuild"]))
def registers_rollups_command(action):
    """check: compare every register's statistics with a recount; rebuild: recount them."""
    failed = False
    for code, cls in sorted(runtime.entry_classes().items()):
        if action == "rebuild":
            rows = register_rollups.rebuild(db.session, cls)
            db.session.commit()
            _say(f"{code}: {rows} 行 rows")
        else:
            differences = register_rollups.check(db.session, cls)
            failed = failed or bool(differences)
            _say(f"{code}: {'一致 OK' if not differences else f'{len(differences)} 处不一致 differences'}")
    if failed:
        sys.exit(1)


@minqing.command("rollups")
@click.argument("action", type=click.Choice(["check", "rebuild"]))
def rollups_command(action):
    """Appeal figures' roll-ups, the visit tally and the visit quota cells (what the dashboard,
    accountability, the counts above lists, 走访率 and quotas read). rebuild: count them again from
    the appeals, visits and people (after a bulk load or hand-made SQL); check: compare them with a
    count, name every cell or row that differs, exit 1 if any."""
    if action == "rebuild":
        days, summaries, opens, states = appeal_rollups.rebuild(db.session)
        rows = tally.rebuild(db.session)  # and the follow-ups still to make (app.services.follow_ups)
        quota = quota_cells.rebuild(db.session)
        contacts = contact_tally.rebuild(db.session)
        db.session.commit()
        _say(
            f"诉求统计已按诉求记录重新计算：按日 {days} 格，汇总 {summaries} 格，待办 {opens} 格，按状态 {states} 格；"
            f"走访统计 {rows} 行；走访任务统计 {quota} 格；代表联系选民统计 {contacts} 行。Appeal roll-ups counted again "
            f"from the appeals: {days} day cells, {summaries} summary cells, {opens} open cells, {states} state cells; "
            f"visit tally: {rows} rows; visit quota cells: {quota}; contact tally: {contacts} rows."
        )
        return
    differences = appeal_rollups.check(db.session)
    visits = tally.check(db.session)
    follow_up_differences = follow_ups.check(db.session)
    quota = quota_cells.differences(db.session)
    contacts = contact_tally.check(db.session)
    db.session.rollback()
    if not differences and not visits and not follow_up_differences and not quota and not contacts:
        _say(
            "诉求统计与诉求记录一致，走访统计、走访任务统计与走访记录一致。"
            "Appeal roll-ups, the visit tally and the quota cells agree with the records."
        )
        return
    for difference in differences[:200]:
        click.echo(appeal_rollups.describe(difference), err=True)
    for row in visits:
        click.echo(f"visit tally {row[0]}: {row[1]} {row[2:]}", err=True)
    for visit_id, kept, expected in follow_up_differences:
        click.echo(f"走访 {visit_id}：待回访日期为 {kept}，应为 {expected}。Visit {visit_id}: follow-up open {kept}, "
                   f"expected {expected}.", err=True)  # fmt: skip
    for difference in quota[:200]:
        click.echo("quota_cell " + quota_cells.describe(difference), err=True)
    for row in contacts:
        click.echo(f"contact tally {row[0]}: representative {row[1]} year {row[2]}: {row[3]} person-times, "
                   f"{row[4]} records", err=True)  # fmt: skip
    click.echo(f"诉求统计有 {len(differences)} 格不一致，走访统计有 {len(visits)} 行不一致，待回访日期有 "
               f"{len(follow_up_differences)} 条不一致，走访任务统计有 {len(quota)} 格不一致，代表联系选民统计有 "
               f"{len(contacts)} 行不一致（各最多列出 200 条）。{len(differences)} cells differ; {len(visits)} tally "
               f"rows differ; {len(follow_up_differences)} follow-up dates differ; {len(quota)} quota cells differ; "
               f"{len(contacts)} contact tally rows differ.", err=True)  # fmt: skip
    sys.exit(1)


attachments_group = SettingsGroup("attachments", help="Photos and files (照片/附件): the store against the rows.")
minqing.add_command(attachments_group)


@attachments_group.command("check")
@click.option("--fix", is_flag=True, help="Remove the files that no row names (orphans).")
def attachments_check_command(fix):
    """List files in the attachment store without a row and rows whose file is missing; exit 1 if
    any problem remains. --fix removes the orphan files (rows are records: never removed here)."""
    report = attachment_bin.check_store(db.session, fix=fix)
    db.session.rollback()
    if not report.listable:
        _say(
            "附件存储不是本地目录，无法列出其中的文件，只检查了记录对应的文件是否存在。"
            "The attachment store is not a local directory: only rows without files were checked."
        )
    _say(f"附件记录 {report.rows} 条，存储中文件 {report.files} 个。{report.rows} rows, {report.files} files.")
    for name in report.files_without_rows:
        _say(f"  没有记录的文件 file without a row: {name}")
    for row_id, stored, original in report.rows_without_files:
        _say(f"  文件缺失的记录 row without its file: #{row_id} {original} ({stored})")
    for row_id in report.thumbnails_missing:
        _say(f"  缩略图缺失 thumbnail missing: #{row_id}")
    if fix:
        _say(f"已删除 {report.removed} 个没有记录的文件。{report.removed} orphan file(s) removed.")
    left = (
        len(report.rows_without_files) + len(report.thumbnails_missing) + (0 if fix else len(report.files_without_rows))
    )
    if left:
        _say(f"有 {left} 处不一致。{left} problem(s) found.")
        sys.exit(1)
    _say("附件存储与记录一致。The attachment store agrees with the rows.")
