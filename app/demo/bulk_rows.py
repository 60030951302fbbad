"""The rows of the bulk demo, table by table (see app.demo.bulk)."""

from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from app.demo.appeals import CONTENTS, UNITS
from app.demo.records import PROBLEMS, RESULTS, SITUATIONS
from app.models.appeals import Importance, Status
from app.services.appeals.deadlines import allowed_term

BATCH = 20_000
APPEAL_CHUNK = 200_000  # appeals per COPY; their events are held until it ends
TOWNSHIP_NAMES = ["城关镇", "黄河街道", "青龙乡"]
COUNTY_NUMBERS = "一二三四五六七八九十"
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华平刚桂兰玉萍红霞建国志文斌辉鹏宇浩婷雪琳晨阳光"
PLACE_A = "东西南北前后大小新老上下中"
PLACE_B = "庄营店寨湾岗沟屯集河桥坡"
ACTIONS = [
    "当场宣传政策并解答",
    "记录问题，转村委会研究",
    "协调相关站所上门处理",
    "联系村调委会调解",
    "帮助整理申请材料",
]
OPINIONS = ["希望硬化通组道路。", "建议增加村卫生室药品种类。", "反映灌溉水渠淤堵。", "希望加强村内治安巡逻。",
            "建议开办农技培训班。", "反映养老金发放时间不固定。", "希望解决小学校车问题。"]  # fmt: skip
REPLY = "已会同相关部门现场核实，问题已解决，并当面向反映人说明情况。"


def _names(rnd, n):
    """A pool of `n` plausible (not unique) Chinese names."""
    out = []
    for _ in range(n):
        given = rnd.choice(GIVEN) + (rnd.choice(GIVEN) if rnd.random() < 0.7 else "")
        out.append(rnd.choice(SURNAMES) + given)
    return out


def _dt(value):
    """The text both databases read back as SQLAlchemy's DateTime (whole seconds, as
    strftime("%Y-%m-%d %H:%M:%S.000000") writes them; isoformat is several times faster)."""
    return value.isoformat(" ", "seconds") + ".000000"


def _plain_days(term):
    """A term of whole days as a timedelta (adding it to a date is ~10× cheaper than a
    relativedelta); a term in months stays a relativedelta (it clips the day)."""
    return timedelta(days=term.days) if term == relativedelta(days=term.days) else term


def _grids(writer, rnd, shape, ids, stamp):
    """(city →) county → townships → villages → groups, ids in insertion order, paths as the
    listeners make them. One county: the county is the root, as always; several (the city
    scale): a city above them, at the level ranked -1."""
    rows = []
    levels = ids["grid_level"]
    township_ids, village_ids, group_ids, county_ids = [], [], [], []
    parent_of, name_of, path_of = {}, {}, {}
    next_id, top = 1, None
    if shape.counties > 1:
        top, next_id = 1, 2
        path_of[top] = "/1/"
        rows.append((top, "410100", "示范市", levels[-1], None, "/1/", 0, None, stamp))
    below = 0 if top is None else 1  # the counties' depth
    for c in range(shape.counties):
        county_id = next_id
        next_id += 1
        c_code = "410100" if top is None else f"4101{c + 1:02d}"
        c_name = "示范县" if top is None else f"示范{COUNTY_NUMBERS[c % 10]}{'' if c < 10 else c // 10}县"
        path_of[county_id] = f"{path_of[top]}{county_id}/" if top else f"/{county_id}/"
        rows.append((county_id, c_code, c_name, levels[0], top, path_of[county_id], below, None, stamp))
        county_ids.append(county_id)
        name_of[county_id] = c_name
        for t in range(shape.townships):
            tid = next_id
            next_id += 1
            t_name = TOWNSHIP_NAMES[t] if t < len(TOWNSHIP_NAMES) else f"{PLACE_A[t % 13]}{PLACE_B[(t * 7) % 12]}镇"
            t_code = f"{c_code}{t + 1:03d}"
            path_of[tid] = f"{path_of[county_id]}{tid}/"
            rows.append((tid, t_code, t_name, levels[1], county_id, path_of[tid], below + 1, None, stamp))
            township_ids.append(tid)
            name_of[tid] = t_name
            for v in range(shape.villages):
                vid = next_id
                next_id += 1
                v_name = f"{PLACE_A[(t + v) % 13]}{PLACE_B[(t * 3 + v) % 12]}{'村' if v % 4 else '社区'}"
                path_of[vid] = f"{path_of[tid]}{vid}/"
                rows.append((vid, f"{t_code}{v + 1:03d}", v_name, levels[2], tid, path_of[vid], below + 2,
                             rnd.randint(180, 900), stamp))  # fmt: skip
                village_ids.append(vid)
                parent_of[vid] = tid
                name_of[vid] = v_name
                for g in range(shape.groups):
                    gid = next_id
                    next_id += 1
                    g_name = f"第{g + 1}村民组" if v % 4 else f"{g + 1}号楼院"
                    path_of[gid] = f"{path_of[vid]}{gid}/"
                    rows.append((gid, f"{t_code}{v + 1:03d}{g + 1:03d}", g_name, levels[3], vid, path_of[gid],
                                 below + 3, rnd.randint(25, 120), stamp))  # fmt: skip
                    group_ids.append(gid)
                    parent_of[gid] = vid
                    name_of[gid] = g_name
    cols = ("id", "code", "name", "level_id", "parent_id", "path", "depth", "households", "created_at")
    writer.write(
        "grid",
        cols + ("updated_at", "sort_order", "active", "version"),
        (r + (stamp, 0, True, 1) for r in rows),
    )
    return {
        "county": county_ids[0],  # the county staff's and the demo logins' county
        "top": top or county_ids[0],
        "counties": county_ids,
        "townships": township_ids,
        "villages": village_ids,
        "groups": group_ids,
        "parent": parent_of,
        "name": name_of,
        "path": path_of,
    }


def _people(writer, rnd, shape, ids, grids, names, day, stamp):
    """People on every level, each with one current assignment; returns the pools visits and
    appeals draw from: {grid id: [person ids]} for villages (cadres and their groups' workers)."""
    kinds, posts = ids["person_kind"], ids["post"]
    start = (day - timedelta(days=800)).isoformat()
    people, assignments = [], []
    village_pool, township_cadres = {}, {}
    pid = 0

    def add(grid_id, kind, position, unit, post):
        nonlocal pid
        pid += 1
        phone = f"1{rnd.choice('3578')}{rnd.randrange(10**9):09d}"
        people.append((pid, names[pid % len(names)], "MF"[pid & 1], unit, position, kinds[kind], phone, grid_id))
        assignments.append((pid, pid, grid_id, posts[post], start))
        return pid

    for county in grids["counties"]:
        for i in range(max(6, shape.people // 1000 // len(grids["counties"]))):
            add(county, "县直干部", ["县委副书记", "副县长", "信访局局长", "民政局副局长"][i % 4] if i else "县委书记",
                "县直机关", "第一责任人" if i == 0 else "工作人员")  # fmt: skip
    n_villages = len(grids["villages"])
    n_groups = len(grids["groups"])
    # the people budget: ~0.5 % township staff, ~5 % village cadres, the rest grid workers and volunteers
    per_township = max(6, shape.people // 200 // max(1, len(grids["townships"])))
    per_village = max(3, shape.people // 20 // max(1, n_villages))
    for tid in grids["townships"]:
        t_name = grids["name"][tid]
        unit = f"{t_name}人民政府"
        add(tid, "乡镇干部", f"{t_name}党委书记", unit, "第一责任人")
        add(tid, "乡镇干部", f"{t_name}长", unit, "工作人员")
        for i in range(per_township - 2):
            p = add(tid, "乡镇干部", ["副书记", "副镇长", "综治办干事", "组织委员"][i % 4], unit,
                    "工作人员")  # fmt: skip
            township_cadres.setdefault(tid, []).append(p)
    for vid in grids["villages"]:
        v_name = grids["name"][vid]
        pool = village_pool.setdefault(vid, [])
        for i in range(per_village):
            post = "直接责任人" if i < 2 else "工作人员"
            pool.append(add(vid, "村两委干部", ["党支部书记", "村委会主任", "村委委员", "妇女主任"][min(i, 3)], v_name,
                            post))  # fmt: skip
    remaining = max(0, shape.people - pid)
    per_group = remaining // max(1, n_groups)
    extra = remaining - per_group * n_groups
    for index, gid in enumerate(grids["groups"]):
        vid = grids["parent"][gid]
        v_name = grids["name"][vid]
        for i in range(per_group + (1 if index < extra else 0)):
            if i == 0:
                p = add(gid, "网格员", "网格长", v_name, "网格长")
            elif i == 1:
                p = add(gid, "网格员", "网格员", v_name, "网格员")
            else:
                p = add(gid, "志愿者", "志愿者", v_name, "工作人员")
            if i < 2:
                village_pool[vid].append(p)
    writer.write(
        "person",
        (
            "id",
            "name",
            "gender",
            "unit",
            "position",
            "kind_id",
            "phone",
            "grid_id",
            "active",
            "version",
            "created_at",
            "updated_at",
        ),  # fmt: skip
        (r + (True, 1, stamp, stamp) for r in people),
    )
    writer.write(
        "assignment",
        ("id", "person_id", "grid_id", "post_id", "start_date", "version", "created_at", "updated_at"),
        (r + (1, stamp, stamp) for r in assignments),
    )
    return {"village": village_pool, "township": township_cadres, "count": pid}


STATUS_BY_AGE = [
    # (max age in days, [(status, weight)])
    (14, [(Status.REGISTERED, 30), (Status.ESCALATED, 5), (Status.ASSIGNED, 25), (Status.IN_PROGRESS, 25),
          (Status.ANSWERED, 15)]),
    (60, [(Status.REGISTERED, 2), (Status.ESCALATED, 3), (Status.ASSIGNED, 10), (Status.IN_PROGRESS, 15),
          (Status.ANSWERED, 40), (Status.EVALUATED, 30)]),
    (10**6, [(Status.IN_PROGRESS, 3), (Status.ANSWERED, 10), (Status.EVALUATED, 25), (Status.ARCHIVED, 62)]),
]  # fmt: skip
_STEPS = {  # the timeline of an appeal in each status (after "register")
    Status.REGISTERED: (),
    Status.ESCALATED: ("escalate",),
    Status.ASSIGNED: ("assign",),
    Status.IN_PROGRESS: ("assign", "start"),
    Status.ANSWERED: ("assign", "start", "feedback"),
    Status.EVALUATED: ("assign", "start", "feedback", "evaluate"),
    Status.ARCHIVED: ("assign", "start", "feedback", "evaluate", "archive"),
}
_TO = {"escalate": Status.ESCALATED, "assign": Status.ASSIGNED, "start": Status.IN_PROGRESS,
       "feedback": Status.ANSWERED, "evaluate": Status.EVALUATED, "archive": Status.ARCHIVED}  # fmt: skip
TIMELINE_EVERY = 4  # one appeal in four gets its full timeline; every appeal has its "register" event


def _weighted(pairs):
    return [value for value, weight in pairs for _ in range(weight)]


def _appeals(writer, rnd, shape, ids, grids, people, names, day, noted_by):
    """`shape.appeals` over the last 24 months; numbers in registration order per month. What their
    cells (day, summary, open, state) are counted from noted in `noted_by` (app.demo.bulk_counts.Counts)."""
    categories = sorted(ids["appeal_category"].items(), key=lambda kv: kv[1])
    channels = list(ids["appeal_channel"].values())
    by_age = [(limit, _weighted(pairs)) for limit, pairs in STATUS_BY_AGE]
    general_term, important_term = _plain_days(allowed_term(Importance.GENERAL)), allowed_term(Importance.IMPORTANT)
    # appeals live in groups (most) and villages; the clerk is a township's
    places = grids["groups"] + grids["villages"]
    parent = grids["parent"]
    township_of = {}
    township_set = set(grids["townships"])
    for gid in places:
        p = parent[gid]
        township_of[gid] = p if p in township_set else parent[p]
    clerk_names = {tid: f"{grids['name'][tid]}综治办录入员" for tid in grids["townships"]}
    moment_now = datetime.combine(day, datetime.min.time())
    months = []
    first = (day.replace(day=1) - timedelta(days=700)).replace(day=1)
    m = first
    while m <= day:
        months.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    # every month gets its share; the current month only up to today
    per_month = shape.appeals // len(months)
    counts = [per_month] * len(months)
    counts[-1] += shape.appeals - per_month * len(months)
    event_rows, counters = [], []
    noted = noted_by.appeals
    aid = 0
    eid = 0
    rand = rnd.random
    n_places, n_names, n_channels = len(places), len(names), len(channels)
    dt = _dt  # the text both databases read back (faster through COPY than a datetime object)

    def add_event(appeal_id, action, frm, to, at, note=None, handler=None, due=None, result=None, actor="录入员"):
        nonlocal eid
        eid += 1
        event_rows.append((eid, appeal_id, action, frm, to, dt(at), actor, note, handler, due, result))

    def appeals_of(chunk):
        """The appeal rows of the months of `chunk`, made as COPY reads them (PostgreSQL takes in one
        row while the next is made); their events are kept in `event_rows` until the chunk is written."""
        nonlocal aid
        for month, count in chunk:
            month_key = month.strftime("%Y%m")
            next_month = (month + timedelta(days=32)).replace(day=1)
            end = min(next_month, day + timedelta(days=1))
            span_minutes = int((datetime.combine(end, datetime.min.time()) - datetime.combine(month, datetime.min.time()))
                               .total_seconds() // 60) - 1  # fmt: skip
            if day < next_month:  # nothing is registered after the start of today
                span_minutes = (
                    int((moment_now - datetime.combine(month, datetime.min.time())).total_seconds() // 60) - 1
                )
            offsets = sorted(rnd.randrange(max(1, span_minutes)) for _ in range(count))
            base = datetime.combine(month, datetime.min.time())
            for seq, offset in enumerate(offsets, start=1):
                aid += 1
                registered = base + timedelta(minutes=offset)
                age = (moment_now - registered).days
                statuses = by_age[0][1] if age <= 14 else by_age[1][1] if age <= 60 else by_age[2][1]
                status = statuses[int(rand() * len(statuses))]
                important = rand() < 0.2
                due = registered.date() + (important_term if important else general_term)
                allowed = (due - registered.date()).days
                grid_id = places[int(rand() * n_places)]
                tid = township_of[grid_id]
                cat_name, cat_id = categories[int(rand() * len(categories))]
                contents = CONTENTS.get(cat_name, CONTENTS["其他"])
                steps = _STEPS[status]
                assigned_at = closed_at = evaluated_at = archived_at = None
                handler_unit = feedback = feedback_by = closed_on_time = None
                satisfaction = source = None
                if "assign" in steps:
                    assigned_at = registered + timedelta(hours=1 + rand() * 23)
                    handler_unit = f"{grids['name'][tid]}{UNITS.get(cat_name, '党政办')}"
                if "feedback" in steps:
                    late = rand() < 0.12
                    hours = allowed * 24 * (1.05 + rand() * 0.5 if late else 0.2 + rand() * 0.7)
                    closed_at = min(registered + timedelta(hours=hours), moment_now - timedelta(minutes=1))
                    closed_at = max(closed_at, assigned_at + timedelta(minutes=30))
                    closed_on_time = closed_at.date() <= due
                    feedback = REPLY
                    feedback_by = clerk_names[tid]
                if "evaluate" in steps:
                    evaluated_at = min(closed_at + timedelta(hours=24 + rand() * 96), moment_now)
                    r = rand()
                    satisfaction = "satisfied" if r < 0.86 else "basic" if r < 0.96 else "unsatisfied"
                    source = "reporter"
                if "archive" in steps:
                    archived_at = min(evaluated_at + timedelta(hours=24 + rand() * 200), moment_now)
                last = archived_at or evaluated_at or closed_at or assigned_at or registered
                supervised = important and rand() < 0.1
                reg_at = dt(registered)
                row = (
                    aid, f"{month_key}{seq:03d}", month_key, seq, names[int(rand() * n_names)],
                    f"{grids['name'][grid_id]}{int(rand() * 80) + 1}号", None,
                    f"1{'3578'[aid & 3]}{int(rand() * 10**9):09d}", None, contents[aid % len(contents)],
                    channels[int(rand() * n_channels)], cat_id, "important" if important else "general",
                    grid_id, grid_id, clerk_names[tid], reg_at, status, due.isoformat(),
                    handler_unit, dt(assigned_at) if assigned_at else None, 0, supervised,
                    feedback, feedback_by, dt(closed_at) if closed_at else None, closed_on_time,
                    satisfaction, source, dt(evaluated_at) if evaluated_at else None,
                    dt(archived_at) if archived_at else None, 1 if status == Status.ESCALATED else 0,
                    1, reg_at, dt(last),
                )  # fmt: skip
                yield row
                noted.append((grid_id, registered.date(), month, cat_id, row[10], row[12], status, due,
                              closed_on_time, satisfaction, supervised))  # fmt: skip
                add_event(aid, "register", None, Status.REGISTERED, registered, actor=clerk_names[tid])
                if aid % TIMELINE_EVERY == 0 and steps:
                    prev = Status.REGISTERED
                    times = {"escalate": registered + timedelta(hours=3), "assign": assigned_at,
                             "start": (assigned_at + timedelta(hours=6)) if assigned_at else None,
                             "feedback": closed_at, "evaluate": evaluated_at, "archive": archived_at}  # fmt: skip
                    for action in steps:
                        at = times[action]
                        if action == "start" and closed_at is not None:
                            at = min(at, closed_at - timedelta(minutes=10))
                        at = min(max(at, registered), moment_now)
                        add_event(aid, action, prev, _TO[action], at,
                                  note="请按期办结并反馈。" if action == "assign" else None,
                                  handler=handler_unit if action == "assign" else None,
                                  due=due.isoformat() if action == "assign" else None,
                                  result=satisfaction if action == "evaluate" else None,
                                  actor=clerk_names[tid])  # fmt: skip
                        prev = _TO[action]
            counters.append((month_key, count))

    chunk, size = [], 0
    for month, count in zip(months, counts, strict=True):
        chunk.append((month, count))
        size += count
        if size >= APPEAL_CHUNK or month is months[-1]:
            writer.write("appeal", APPEAL_COLUMNS, appeals_of(chunk))
            writer.write("appeal_event", EVENT_COLUMNS, event_rows)
            event_rows.clear()
            chunk, size = [], 0
    writer.write("appeal_counter", ("month", "last_seq"), counters)


APPEAL_COLUMNS = (
    "id", "number", "number_month", "number_seq", "reporter_name", "reporter_address", "reporter_unit",
    "reporter_phone", "reporter_id_number", "content", "channel_id", "category_id", "importance",
    "grid_id", "origin_grid_id", "filed_by_name", "registered_at", "status", "due_date",
    "handler_unit", "assigned_at", "extension_count", "supervised", "feedback", "feedback_by_name",
    "closed_at", "closed_on_time", "satisfaction", "evaluation_source", "evaluated_at", "archived_at",
    "escalation_count", "version", "created_at", "updated_at",
)  # fmt: skip
EVENT_COLUMNS = ("id", "appeal_id", "action", "from_status", "to_status", "at", "actor_name", "note",
                 "handler_text", "due_date", "result")  # fmt: skip


VISIT_COLUMNS = ("id", "visit_date", "form_id", "grid_id", "target_id", "visited_name", "visited_phone", "address",
                 "family_size", "situation", "problems", "actions", "result", "follow_up_date", "follow_up_open",
                 "household_key", "version", "created_at", "updated_at")  # fmt: skip


def _visits(writer, rnd, shape, ids, grids, people, names, day, stamp, counts):
    """`shape.visits` over the last two years in the groups, one or two visitors from the village; what
    the visit tally (per visitor and per grid) is counted from noted in `counts`."""
    forms = ids["visit_form"]
    form_pool = _weighted([(forms["登门上户"], 12), (forms["定点接待"], 2), (forms["重点约谈"], 1),
                           (forms["夜访"], 1), (forms["座谈会"], 1)])  # fmt: skip
    targets = ids["visit_target"]
    target_pool = _weighted([(targets["一般群众"], 60), (targets["困难群体"], 15), (targets["矛盾纠纷当事人"], 10),
                             (targets["上访人员"], 8), (targets["重大变故家庭"], 7)])  # fmt: skip
    groups = grids["groups"]
    parent, gname = grids["parent"], grids["name"]
    pools = people["village"]
    rand = rnd.random
    n_groups, n_names = len(groups), len(names)
    days = 730
    day_ord = day.toordinal()
    # addresses per group: a fixed set of doors, so households repeat (the households quotas)
    links = []
    vid_ = 0
    noted = counts.visits
    chunk = 250_000

    def visits_of(n):
        """`n` visit rows, made as COPY reads them; their visitors are kept in `links`."""
        nonlocal vid_
        for _ in range(n):
            vid_ += 1
            gid = groups[int(rand() * n_groups)]
            village = parent[gid]
            door = int(rand() * 60) + 1
            address = f"{gname[village]}{gname[gid]}{door}号"
            ordinal = day_ord - int(rand() * days)
            visit_day = date.fromordinal(ordinal)
            problem = PROBLEMS[int(rand() * len(PROBLEMS))]
            follow = (
                (visit_day + timedelta(days=7 + int(rand() * 38))).isoformat() if problem and rand() < 0.2 else None
            )
            # follow_up_open: no generated visit follows another up, so each planned one is still to make
            yield (
                vid_, visit_day.isoformat(), form_pool[int(rand() * len(form_pool))], gid,
                target_pool[int(rand() * len(target_pool))], names[(gid * 61 + door) % n_names],
                None, address, 1 + door % 6, SITUATIONS[door % len(SITUATIONS)], problem,
                ACTIONS[int(rand() * len(ACTIONS))], RESULTS[int(rand() * len(RESULTS))], follow, follow,
                f"{gid}:@{address}", 1, stamp, stamp,
            )  # fmt: skip
            pool = pools[village]
            first = pool[int(rand() * len(pool))]
            links.append((vid_, first))
            other = 0
            if rand() < 0.25:
                second = pool[int(rand() * len(pool))]
                if second != first:
                    links.append((vid_, second))
                    other = second
            noted.extend((ordinal, gid, village, door, first, other))

    while vid_ < shape.visits:
        writer.write("visit", VISIT_COLUMNS, visits_of(min(chunk, shape.visits - vid_)))
        writer.write("visit_visitor", ("visit_id", "person_id"), links)
        links.clear()


def _representatives(writer, rnd, shape, ids, grids, people, names, day, stamp):
    """A constituency per village, representatives drawn from its people, contact records over two years."""
    villages = grids["villages"]
    per = max(1, shape.representatives // len(villages))
    forms = ids["contact_form"]
    form_pool = _weighted([(forms["走访"], 5), (forms["电话"], 2), (forms["选民座谈会"], 1),
                           (forms["代表工作室接待"], 1)])  # fmt: skip
    big = {forms["选民座谈会"], forms["代表工作室接待"]}
    constituencies, links, reps, records = [], [], [], []
    year = day.year
    rid = 0
    for cid, vid in enumerate(villages, start=1):
        constituencies.append((cid, f"{grids['name'][vid]}选区", vid, stamp, stamp))
        links.append((cid, vid))
        pool = people["village"][vid]
        for person_id in pool[:per]:
            if rid >= shape.representatives:
                break
            rid += 1
            reps.append((rid, person_id, "township" if rid % 10 else "county", cid, year - 3, year + 2, True,
                         stamp, stamp))  # fmt: skip
    rand = rnd.random
    n_forms, day_ord = len(form_pool), day.toordinal()
    rec_id = 0
    for rep in reps:
        for _ in range(shape.contacts_per_rep):
            rec_id += 1
            form = form_pool[int(rand() * n_forms)]
            voters = 8 + int(rand() * 12) if form in big else 1 + int(rand() * 3)
            contact = date.fromordinal(day_ord - int(rand() * 700))
            important = rand() < 0.12
            reported = important and rand() < 0.7
            records.append((
                rec_id, rep[0], contact.isoformat(), "村委会", form, voters,
                "、".join(names[(rec_id + k) % len(names)] for k in range(min(voters, 3))),
                OPINIONS[rec_id % len(OPINIONS)], "已当场答复", important,
                "人大主席" if reported else None, (contact + timedelta(days=2)).isoformat() if reported else None,
                1, stamp, stamp,
            ))  # fmt: skip
    writer.write("constituency", ("id", "name", "grid_id", "created_at", "updated_at"), constituencies)
    writer.write("constituency_grid", ("constituency_id", "grid_id"), links)
    writer.write("representative", ("id", "person_id", "level", "constituency_id", "term_start", "term_end",
                                    "active", "created_at", "updated_at"), reps)  # fmt: skip
    writer.write("contact_record", ("id", "representative_id", "contact_date", "place", "form_id", "voter_count",
                                    "voter_names", "opinions", "replies", "important", "reported_to", "reported_at",
                                    "version", "created_at", "updated_at"), records)  # fmt: skip
    return len(reps)
