"""Demo data: a county with three townships, ~30 villages/communities, ~200 groups,
~500 people with their posts, one login per role, and a year of appeals in every
state. Deterministic (DEMO_SEED) relative to today's date."""

import random
from datetime import datetime, timedelta

from faker import Faker
from flask import current_app
from sqlalchemy import select

from app.models.grids import Grid
from app.models.lookups import ContactForm, GridLevel, PersonKind, VisitForm, VisitTarget
from app.models.personnel import Assignment, Person, Post
from app.models.representatives import Constituency, ContactRecord, Representative
from app.models.visits import Visit
from app.security import CLERK, GRID_WORKER, LEADER, REPRESENTATIVE
from app.services.clock import today
from app.services.users import create_user

TOWNSHIPS = [("城关镇", "镇"), ("黄河街道", "街道"), ("青龙乡", "乡")]
PREFIX = "东西南北前后大小新老王李张刘陈杨赵黄周吴高孙马胡郭林何罗"
SUFFIX = ["庄", "营", "店", "寨", "湾", "岗", "沟", "屯", "集", "河", "桥", "坡"]
COMMUNITY = ["幸福", "和平", "建设", "光明", "育才", "文化", "振兴", "滨河", "康乐", "朝阳"]
NUMERALS = "一二三四五六七八九十"


def load_demo(session, sm):
    rnd = random.Random(current_app.config["DEMO_SEED"])
    fake = Faker("zh_CN")
    fake.seed_instance(current_app.config["DEMO_SEED"])
    levels = {lv.rank: lv for lv in session.scalars(select(GridLevel))}
    kinds = {k.name: k for k in session.scalars(select(PersonKind))}
    posts = {p.name: p for p in session.scalars(select(Post))}
    start = today().replace(month=1, day=1) - timedelta(days=365)

    people = []

    def person(name_grid, kind, position, unit, gender=None):
        p = Person(
            name=fake.name(),
            gender=gender or rnd.choice("MF"),
            unit=unit,
            position=position,
            kind=kinds.get(kind),
            phone=fake.phone_number(),
            grid=name_grid,
            active=True,
        )
        session.add(p)
        people.append(p)
        return p

    assignments = []

    def assign(p, grid, post_name, since=start, until=None):
        a = Assignment(person=p, grid=grid, post=posts[post_name], start_date=since, end_date=until)
        session.add(a)
        assignments.append(a)
        return a

    county = Grid(code="410100", name="示范县", level=levels[0], households=None)
    session.add(county)
    county_staff = []
    for position in (
        "县委副书记",
        "县政府副县长",
        "县信访局局长",
        "县民政局副局长",
        "县人社局副局长",
        "县自然资源局副局长",
    ):
        county_staff.append(person(county, "县直干部", position, position[:5]))
    assign(county_staff[0], county, "第一责任人")

    townships, villages, groups = [], [], []
    for t_index, (t_name, t_kind) in enumerate(TOWNSHIPS, start=1):
        township = Grid(code=f"410100{t_index:03d}", name=t_name, level=levels[1], parent=county)
        session.add(township)
        townships.append(township)
        unit = f"{t_name}人民政府" if t_kind != "街道" else f"{t_name}办事处"
        secretary = person(township, "乡镇干部", f"{t_name}党委书记", unit)
        head = person(township, "乡镇干部", f"{t_name}{'主任' if t_kind == '街道' else '长'}", unit)
        assign(secretary, township, "第一责任人")
        assign(head, township, "工作人员")
        cadres = [
            person(township, "乡镇干部", rnd.choice(["副书记", "副镇长", "武装部长", "组织委员", "纪委书记"]), unit)
            for _ in range(8)
        ]
        clerks = [person(township, "乡镇干部", "综治办干事", unit) for _ in range(3)]
        for c in clerks:
            assign(c, township, "工作人员")
        for v_index in range(1, 11):
            community = t_kind == "街道" or (t_kind == "镇" and v_index <= 3)
            if community:
                v_name = COMMUNITY[(v_index + t_index) % len(COMMUNITY)] + "社区"
            else:
                v_name = (
                    PREFIX[(t_index * 11 + v_index * 3) % len(PREFIX)]
                    + SUFFIX[(v_index + t_index) % len(SUFFIX)]
                    + "村"
                )
            village = Grid(
                code=f"410100{t_index:03d}{v_index:03d}",
                name=v_name,
                level=levels[2],
                parent=township,
                households=rnd.randint(180, 900),
            )
            session.add(village)
            villages.append(village)
            leader = cadres[(v_index - 1) % len(cadres)]
            assign(leader, village, "包村领导")
            assign(cadres[v_index % len(cadres)], village, "第一书记")
            v_secretary = person(village, "村两委干部", "党支部书记" if not community else "社区党委书记", v_name)
            v_director = person(village, "村两委干部", "村委会主任" if not community else "居委会主任", v_name)
            assign(v_secretary, village, "直接责任人")
            assign(v_director, village, "直接责任人")
            if community:
                police = person(village, "县直干部", "社区民警", f"{t_name}派出所")
                assign(police, village, "社区民警")
            n_groups = rnd.randint(5, 8)
            for g_index in range(1, n_groups + 1):
                g_name = f"{g_index}号楼院" if community else f"第{NUMERALS[(g_index - 1) % 10]}村民组"
                group = Grid(
                    code=f"410100{t_index:03d}{v_index:03d}{g_index:03d}",
                    name=g_name,
                    level=levels[3],
                    parent=village,
                    households=rnd.randint(25, 120),
                )
                session.add(group)
                groups.append(group)
                # a few groups are left without a grid leader: the coverage report shows them
                if rnd.random() < 0.04:
                    continue
                chief = person(group, rnd.choice(["网格员", "志愿者"]), "网格长", v_name)
                assign(chief, group, "网格长")
                if rnd.random() < 0.85:
                    worker = person(group, "网格员", "网格员", v_name)
                    assign(worker, group, "网格员")
                if rnd.random() < 0.1:  # rotation: the former grid leader's assignment is history
                    former = person(group, "志愿者", "原网格长", v_name)
                    former.active = rnd.random() < 0.5
                    assign(former, group, "网格长", since=start - timedelta(days=700), until=start - timedelta(days=1))
    session.flush()

    def rep_person(grid, title):
        p = person(grid, "人大代表", "城关镇人大代表", f"{grid.name}人民政府")
        p.name = title
        return p

    logins = create_demo_logins(session, sm, county, townships, villages, rep_person)
    session.commit()
    visit_count = load_demo_visits(session, rnd, fake)
    rep_count = load_demo_representatives(session, rnd, fake, sm.find_user(username="rep"))
    session.commit()
    appeals = load_demo_appeals(session, rnd, fake, townships, today() - timedelta(days=365))
    return {
        "visits": visit_count,
        "representatives": rep_count,
        "appeals": appeals,
        "grids": 1 + len(townships) + len(villages) + len(groups),
        "people": len(people),
        "assignments": len(assignments),
        "logins": logins,
    }


def create_demo_logins(session, sm, county, townships, villages, rep_person):
    """One login per role (DEMO_USERNAMES), in the first townships and the fourth village;
    `rep_person(grid, title)` makes the representative's own person. Returns (username, role, where)."""
    logins = []
    pw = current_app.config["DEMO_PASSWORD"]
    t1, t2 = townships[0], townships[1]
    v1 = villages[3]
    plan = [  # usernames are listed in DEMO_USERNAMES
        ("clerk", CLERK, t1, "城关镇综治办录入员", "工作人员"),
        ("clerk2", CLERK, t2, "黄河街道录入员", "工作人员"),
        ("gridworker", GRID_WORKER, v1, f"{v1.name}网格员", "网格员"),
        ("leader", LEADER, t1, "城关镇党委书记", None),
        ("countyleader", LEADER, county, "县委副书记", None),
        ("rep", REPRESENTATIVE, t1, "城关镇人大代表", "工作人员"),
    ]
    for username, role, grid, title, post_name in plan:
        if role == REPRESENTATIVE:  # the representative's own person, so the login has a mandate
            rep_person_row = rep_person(grid, title)
            session.flush()
            create_user(
                session, sm, username, pw, [role], grid_code=grid.code, name=title, post_name=post_name,
                person=rep_person_row, check_complexity=False,
            )  # fmt: skip
        elif role == LEADER:
            linked = secretary_of(session, grid)
            user, _ = create_user(session, sm, username, pw, [role], name=title, person=linked, check_complexity=False)
        else:
            user, _ = create_user(
                session,
                sm,
                username,
                pw,
                [role],
                grid_code=grid.code,
                name=title,
                post_name=post_name,
                check_complexity=False,
            )
        logins.append((username, role, f"{grid.name}（{grid.code}）"))
    return logins


def secretary_of(session, grid):
    """The person holding the grid's 第一责任人 post (a leader's login links to them)."""
    return session.scalar(
        select(Person)
        .join(Assignment, Assignment.person_id == Person.id)
        .join(Post, Assignment.post_id == Post.id)
        .where(Assignment.grid_id == grid.id, Post.name == "第一责任人", Assignment.end_date.is_(None))
        .limit(1)
    )


DEMO_USERNAMES = ("clerk", "clerk2", "gridworker", "leader", "countyleader", "rep")


def demo_logins(session, sm):
    """The demo logins that exist in this database, as (username, role names)."""
    out = []
    for username in DEMO_USERNAMES:
        user = sm.find_user(username=username)
        if user is not None:
            out.append((username, ", ".join(r.name for r in user.roles)))
    return out


# --------------------------------------------------------------------------
# Visits and representatives
# --------------------------------------------------------------------------

SITUATIONS = [
    "老两口独居，子女在外务工，身体尚可。",
    "家中有残疾人一名，享受低保。",
    "种植大棚蔬菜，收入稳定。",
    "丈夫去年因病去世，孩子读初中。",
    "与邻居因宅基地界线有争执。",
    "在外务工返乡，准备自主创业。",
    "家中老人长期卧床，照护压力大。",
    "新建住房，手续正在办理中。",
]
PROBLEMS = [
    "村道破损，雨天出行困难。",
    "医保报销比例不清楚，希望上门讲解。",
    "自来水水压不足，高峰时段断水。",
    "低保申请递交两个月没有回音。",
    "与邻居的宅基地纠纷希望村里调解。",
    "孩子上学路远，希望开通校车。",
    "路灯损坏多日无人维修。",
    "土地流转租金未按时兑现。",
    None,
    None,
    None,
]
ACTIONS = [
    "当场宣传政策并解答",
    "记录问题，转村委会研究",
    "协调相关站所上门处理",
    "联系村调委会调解",
    "帮助整理申请材料",
]
RESULTS = ["群众满意", "已解决", "正在办理", "已转交乡镇相关部门", "待回访了解办理情况"]
TARGET_WEIGHTS = [("一般群众", 60), ("困难群体", 15), ("矛盾纠纷当事人", 10), ("上访人员", 8), ("重大变故家庭", 7)]


def _people_by(session, kind_name):
    """{grid id: [people]} of one kind."""
    out = {}
    rows = session.scalars(
        select(Person)
        .join(PersonKind, Person.kind_id == PersonKind.id)
        .where(PersonKind.name == kind_name, Person.active.is_(True))
        .order_by(Person.id)
    )
    for p in rows:
        out.setdefault(p.grid_id, []).append(p)
    return out


def load_demo_visits(session, rnd, fake, count=420, days=180):
    """A few hundred visit logs over the last months, mostly in 城关镇, some with follow-ups."""
    forms = {f.name: f for f in session.scalars(select(VisitForm))}
    targets = {t.name: t for t in session.scalars(select(VisitTarget))}
    village_level = session.scalar(select(GridLevel).where(GridLevel.rank == 2))
    villages = session.scalars(select(Grid).where(Grid.level_id == village_level.id).order_by(Grid.code)).all()
    groups = {}
    for g in session.scalars(select(Grid).where(Grid.parent_id.in_([v.id for v in villages])).order_by(Grid.code)):
        groups.setdefault(g.parent_id, []).append(g)
    village_cadres = _people_by(session, "村两委干部")
    township_cadres = _people_by(session, "乡镇干部")
    county_cadres = [p for ps in _people_by(session, "县直干部").values() for p in ps if p.grid.parent_id is None]
    target_names = [name for name, weight in TARGET_WEIGHTS for _ in range(weight)]
    end = today()
    made = []
    for _ in range(count):
        # two visits in three are in the first township, where the demo logins work
        village = rnd.choice(villages[:10]) if rnd.random() < 0.66 else rnd.choice(villages)
        visitors = []
        roll = rnd.random()
        if roll < 0.45 and village_cadres.get(village.id):
            visitors.append(rnd.choice(village_cadres[village.id]))
        elif roll < 0.9 and township_cadres.get(village.parent_id):
            visitors.append(rnd.choice(township_cadres[village.parent_id]))
        elif county_cadres:
            visitors.append(rnd.choice(county_cadres))
        if not visitors:
            continue
        if rnd.random() < 0.25 and village_cadres.get(village.id):
            extra = rnd.choice(village_cadres[village.id])
            if extra not in visitors:
                visitors.append(extra)
        grid = rnd.choice(groups.get(village.id) or [village])
        target = rnd.choice(target_names)
        form = "重点约谈" if target == "上访人员" and rnd.random() < 0.5 else rnd.choice(
            ["登门上户"] * 6 + ["定点接待", "夜访", "座谈会"]
        )  # fmt: skip
        visit_date = end - timedelta(days=rnd.randint(0, days))
        problem = rnd.choice(PROBLEMS)
        follow = problem is not None and rnd.random() < 0.35
        visit = Visit(
            visit_date=visit_date,
            form=forms[form],
            grid=grid,
            target=targets[target],
            visitors=visitors,
            visited_name=fake.name(),
            visited_phone=fake.phone_number() if rnd.random() < 0.7 else None,
            address=f"{village.name}{grid.name}{rnd.randint(1, 40)}号",
            family_size=rnd.randint(1, 6),
            situation=rnd.choice(SITUATIONS),
            problems=problem,
            actions=rnd.choice(ACTIONS),
            result=rnd.choice(RESULTS),
            follow_up_date=visit_date + timedelta(days=rnd.randint(7, 45)) if follow else None,
        )
        session.add(visit)
        made.append(visit)
    session.flush()
    # half of the follow-ups already due were made (定期回访)
    follow_ups = 0
    for visit in made:
        if visit.follow_up_date and visit.follow_up_date <= end and rnd.random() < 0.5:
            session.add(
                Visit(
                    visit_date=visit.follow_up_date,
                    form=forms["定期回访"],
                    grid=visit.grid,
                    target=visit.target,
                    visitors=list(visit.visitors),
                    visited_name=visit.visited_name,
                    visited_phone=visit.visited_phone,
                    address=visit.address,
                    family_size=visit.family_size,
                    situation=visit.situation,
                    actions="回访了解办理进展",
                    result=rnd.choice(["问题已解决，群众满意", "正在办理，已向群众说明进度"]),
                    follow_up_of=visit,
                )
            )
            follow_ups += 1
    session.flush()
    return len(made) + follow_ups


def load_demo_representatives(session, rnd, fake, rep_user=None):
    """Constituencies of two or three villages, a representative each (a few at county level),
    contact records for last year and this year; the `rep` login's own mandate with records."""
    forms = {f.name: f for f in session.scalars(select(ContactForm))}
    kind = session.scalar(select(PersonKind).where(PersonKind.name == "人大代表"))
    village_level = session.scalar(select(GridLevel).where(GridLevel.rank == 2))
    townships = session.scalars(select(Grid).where(Grid.depth == 1).order_by(Grid.code)).all()
    year = today().year
    term = (year - 3, year + 2)
    reps = []
    for t_index, township in enumerate(townships):
        villages = session.scalars(
            select(Grid).where(Grid.parent_id == township.id, Grid.level_id == village_level.id).order_by(Grid.code)
        ).all()
        chunks = [villages[i : i + 2] for i in range(0, len(villages), 2)]
        for c_index, chunk in enumerate(chunks[:4], start=1):
            constituency = Constituency(name=f"{township.name}第{c_index}选区", grids=chunk, grid=township)
            if len(chunk) == 1:
                constituency.grid = chunk[0]
            session.add(constituency)
            home = chunk[0]
            person = Person(
                name=fake.name(), gender=rnd.choice("MF"), unit=home.name, position=rnd.choice(
                    ["种植大户", "村医", "小学教师", "个体工商户", "村党支部委员", "合作社理事长"]
                ), kind=kind, phone=fake.phone_number(), grid=home, active=True,
            )  # fmt: skip
            session.add(person)
            level = "county" if c_index == 1 and t_index < 3 else "township"
            reps.append(
                Representative(
                    person=person,
                    constituency=constituency,
                    level=level,
                    term_start=term[0],
                    term_end=term[1],
                    active=True,
                )  # fmt: skip
            )
    if rep_user is not None:
        me = session.scalar(select(Person).where(Person.user_id == rep_user.id))
        mine = session.scalar(select(Constituency).where(Constituency.name == f"{townships[0].name}第2选区"))
        if me is not None and mine is not None:
            reps.append(
                Representative(
                    person=me, constituency=mine, level="township", term_start=term[0], term_end=term[1], active=True
                )  # fmt: skip
            )
    session.add_all(reps)
    session.flush()
    end = today()
    places = ["村委会", "代表工作室", "田间地头", "选民家中", "村文化广场", "联络站"]
    opinions = [
        "希望硬化通组道路。", "建议增加村卫生室药品种类。", "反映灌溉水渠淤堵。", "希望加强村内治安巡逻。",
        "建议开办农技培训班。", "反映养老金发放时间不固定。", "希望解决小学校车问题。",
    ]  # fmt: skip
    for index, rep in enumerate(reps):
        # some representatives keep pace, some fall behind: the progress page has something to show
        eagerness = [1.4, 1.0, 0.6, 0.3][index % 4]
        for y, days in ((year - 1, 365), (year, (end - end.replace(month=1, day=1)).days + 1)):
            start = end.replace(year=y, month=1, day=1)
            target = 40 * days / 365 * eagerness
            done = 0
            while done < target:
                form = rnd.choice(["走访"] * 5 + ["电话"] * 2 + ["选民座谈会", "代表工作室接待"])
                voters = rnd.randint(8, 20) if form in ("选民座谈会", "代表工作室接待") else rnd.randint(1, 3)
                contact_date = start + timedelta(days=rnd.randint(0, days - 1))
                important = rnd.random() < 0.12
                reported = important and rnd.random() < 0.7
                session.add(
                    ContactRecord(
                        representative=rep, contact_date=contact_date, place=rnd.choice(places), form=forms[form],
                        voter_count=voters, voter_names="、".join(fake.name() for _ in range(min(voters, 3))),
                        opinions=rnd.choice(opinions), replies=rnd.choice(["已当场答复", "已转乡镇相关部门", None]),
                        important=important, reported_to=rnd.choice(["人大主席", "人大副主席"]) if reported else None,
                        reported_at=min(end, contact_date + timedelta(days=rnd.randint(1, 6))) if reported else None,
                    )
                )  # fmt: skip
                done += voters
    session.flush()
    return len(reps)


# --------------------------------------------------------------------------
# Appeals: a year of registrations driven through the real workflow
# --------------------------------------------------------------------------

CONTENTS = {
    "土地": ["反映承包地边界与邻户有争议，要求重新丈量确权。", "反映宅基地审批手续办理进度慢。"],
    "征地拆迁": ["反映征地补偿款尚未足额发放到户。", "询问道路拓宽工程拆迁安置房分配办法。"],
    "劳动保障": ["反映在工地务工被拖欠工资三个月。", "咨询灵活就业人员社保缴费政策。"],
    "环境保护": ["反映村东养殖场异味严重，污水直排沟渠。", "反映夜间有人焚烧垃圾，烟雾扰民。"],
    "社会保障": ["申请低保，家中老人长期患病无劳动能力。", "反映高龄补贴本季度未到账。"],
    "矛盾纠纷": ["邻里因排水沟问题发生口角，请求调解。", "家庭赡养纠纷，子女不履行赡养义务。"],
    "基础设施": [
        "反映村道路灯损坏多处，夜间出行不便。",
        "反映自来水水压低，高峰时段断水。",
        "反映生产路被雨水冲毁，农机无法通行。",
    ],
    "教育医疗": ["反映村卫生室医生不足，看病排队时间长。", "咨询子女转学入学手续。"],
    "治安": ["反映小区电动车多次被盗，请求加强巡逻。", "反映路口无信号灯，存在安全隐患。"],
    "政策咨询": ["咨询农村危房改造补助申请条件。", "咨询新型农村合作医疗报销比例。"],
    "其他": ["建议在村文化广场增设健身器材。", "反映公交班次少，出行不便。"],
}
UNITS = {
    "土地": "国土所",
    "征地拆迁": "征收办",
    "劳动保障": "劳动保障所",
    "环境保护": "环保所",
    "社会保障": "民政所",
    "矛盾纠纷": "司法所",
    "基础设施": "村镇建设办",
    "教育医疗": "卫生院",
    "治安": "派出所",
    "政策咨询": "党政办",
    "其他": "党政办",
}
WORK_UNITS = ["务农", "个体经营", "外出务工", "退休", "县第一中学", "镇卫生院", "无", None, None]
REPLIES = [
    "已会同相关部门现场核实，问题已解决，并当面向反映人说明情况。",
    "已协调责任单位限期整改，整改完成后回访反映人，反映人认可。",
    "已按政策答复反映人，讲清办理条件和流程，并协助准备材料。",
]


def load_demo_appeals(session, rnd, fake, townships, day_zero):
    """About 30 appeals a month for a year, registered by the township clerks and
    driven through the workflow with the clock frozen at each step; what a step
    would do after today is not done, so recent appeals are still open and some
    are overdue. Returns the number of appeals."""
    from app.models.appeals import Appeal
    from app.models.lookups import AppealCategory, AppealChannel
    from app.services import appeals as svc
    from app.services import clock
    from app.services.validators import id_check_char

    categories = list(session.scalars(select(AppealCategory).order_by(AppealCategory.sort_order)))
    channels = list(session.scalars(select(AppealChannel).order_by(AppealChannel.sort_order)))
    sm_users = {p.user_id: p for p in session.scalars(select(Person).where(Person.user_id.is_not(None)))}
    # nothing happens after the start of today: the same data for the whole day
    moment_now = datetime.combine(clock.today(), datetime.min.time())

    def actor_for(person):
        return svc.Actor(name=person.name, permissions=frozenset(svc.PERMISSIONS), user_id=person.user_id)

    plans = []
    for township in townships:
        staff = list(session.scalars(select(Person).where(Person.grid_id == township.id).order_by(Person.id)))
        login_clerks = [p for p in staff if p.user_id in sm_users and "录入员" in (p.name or "")]
        clerks = login_clerks or [p for p in staff if p.position == "综治办干事"]
        leader = secretary_of(session, township)
        grids = list(
            session.scalars(
                select(Grid).where(Grid.path.like(f"{township.path}%"), Grid.id != township.id).order_by(Grid.path)
            )
        )
        cadres = {}
        for person in session.scalars(
            select(Person).where(
                Person.grid_id.in_([g.id for g in grids]), Person.position.is_not(None), Person.active.is_(True)
            )
        ):
            cadres.setdefault(person.grid_id, []).append(person)
        for n in range(120):
            span = (moment_now.date() - day_zero).days if n % 10 else 14  # the last two weeks are busier
            registered = datetime.combine(moment_now.date() - timedelta(days=span), datetime.min.time()) + timedelta(
                days=rnd.randint(0, span), minutes=rnd.randint(8 * 60, 18 * 60)
            )
            if registered > moment_now:
                registered = moment_now - timedelta(hours=rnd.randint(1, 48))
            plans.append((registered, township, rnd.choice(clerks), leader, rnd.choice(grids), cadres))
    plans.sort(key=lambda p: p[0])

    count = 0
    recent = []
    for registered, township, clerk, leader, grid, cadres in plans:
        category = rnd.choice(categories)
        important = rnd.random() < 0.2
        birth = f"{rnd.randint(1945, 2000)}{rnd.randint(1, 12):02d}{rnd.randint(1, 28):02d}"
        first17 = f"410100{birth}{rnd.randint(0, 999):03d}"
        appeal = Appeal(
            reporter_name=fake.name(),
            reporter_phone=f"1{rnd.choice('3578')}{rnd.randint(0, 999999999):09d}",
            reporter_address=f"{grid.name}{rnd.randint(1, 80)}号",
            reporter_unit=rnd.choice(WORK_UNITS),
            reporter_id_number=first17 + id_check_char(first17) if rnd.random() < 0.3 else None,
            content=rnd.choice(CONTENTS.get(category.name, CONTENTS["其他"])),
            channel=rnd.choice(channels),
            category=category,
            importance="important" if important else "general",
            grid=grid,
        )
        clerk_actor = actor_for(clerk)
        with clock.frozen(registered):
            svc.register_appeal(session, clerk_actor, appeal)
        count += 1
        _drive_demo_appeal(session, svc, clock, rnd, appeal, registered, moment_now, clerk_actor,
                           actor_for(leader) if leader else clerk_actor, township, cadres, recent)  # fmt: skip
        recent.append(appeal)
        recent[:] = recent[-20:]
        session.commit()
    return count


def _drive_demo_appeal(session, svc, clock, rnd, appeal, t, moment_now, clerk, leader, township, cadres, recent):
    """Walk one demo appeal along a plausible path, each step at its own time."""

    def at(hours):
        nonlocal t
        t = t + timedelta(hours=hours)
        return t <= moment_now

    def step(actor, action, **data):
        with clock.frozen(t):
            svc.perform(session, actor, appeal, action, data)

    roll = rnd.random()
    if roll < 0.02 and recent:  # a second registration of a matter already on file
        original = rnd.choice(recent)
        if at(rnd.uniform(1, 8)) and appeal.status == "registered":
            step(clerk, "duplicate", original=original.number, note="同一事项重复反映")
            if at(rnd.uniform(2, 48)):
                step(clerk, "archive", note="并入原件办理")
        return
    if roll < 0.10:  # answered on the spot
        if at(rnd.uniform(0.2, 1)):
            step(clerk, "resolve_on_spot", reply="当场向反映人解释政策，反映人表示理解。")
            _evaluate_and_archive(rnd, at, step, clerk, f"{township.name}党政办")
        return
    fresh = (moment_now - appeal.registered_at).days < 10
    if fresh and rnd.random() < 0.3:  # still waiting to be assigned
        return
    if (
        (roll < 0.16 or (fresh and roll < 0.3))
        and appeal.grid.parent_id
        and appeal.grid.parent_id != township.parent_id
    ):
        if at(rnd.uniform(2, 30)):
            step(clerk, "escalate", note="涉及多个部门，超出本级办理权限，报上级协调。")
            if fresh and rnd.random() < 0.5:  # waiting for the higher level
                return
    handlers = cadres.get(appeal.grid_id) or cadres.get(appeal.grid.parent_id) or []
    person = rnd.choice(handlers) if handlers and rnd.random() < 0.6 else None
    unit = f"{township.name}{UNITS.get(appeal.category.name, '党政办')}"
    if not at(rnd.uniform(1, 24)):
        return
    step(clerk, "assign", handler_person=person.id if person else "", handler_unit=unit if not person else "",
         note="请按期办结并反馈。")  # fmt: skip
    if not at(rnd.uniform(6, 60)):
        return
    step(clerk, "start")
    if fresh and rnd.random() < 0.35 and at(rnd.uniform(2, 12)):  # waiting for the leader's decision
        step(clerk, "extend", until=(appeal.due_date + timedelta(days=7)).isoformat(), reason="需等待县直部门现场勘验。",
             progress="已联系相关部门，已电话告知反映人预计办结时间。")  # fmt: skip
        return
    if appeal.importance == "important" and rnd.random() < 0.25 and at(rnd.uniform(12, 72)):
        step(leader, "supervise", note="重点关注，请加快办理，按期反馈。")
    days_allowed = (appeal.due_date - appeal.registered_at.date()).days
    late = rnd.random() < 0.18
    stall = rnd.random() < 0.15 and (moment_now - appeal.registered_at).days < 60  # not followed up
    if late and rnd.random() < 0.5:  # asks for more time before the deadline
        ask = clock_to_deadline(appeal, t) - rnd.uniform(24, 48)
        if ask > 0 and at(ask):
            until = appeal.due_date + timedelta(days=rnd.randint(5, 15))
            step(clerk, "extend", until=until.isoformat(), reason="需协调县直部门联合处理。",
                 progress="已完成现场勘查，正在协调资金，已电话告知反映人。")  # fmt: skip
            if at(rnd.uniform(4, 30)):
                if rnd.random() < 0.8:
                    step(leader, "approve_extension", approve="approve", note="同意延期。")
                else:
                    step(leader, "approve_extension", approve="reject", note="事项不复杂，请按原期限办结。")
    if stall:
        return
    hours_to_reply = (days_allowed * rnd.uniform(1.05, 1.6) if late else days_allowed * rnd.uniform(0.2, 0.9)) * 24
    elapsed = (t - appeal.registered_at).total_seconds() / 3600
    if not at(max(2.0, hours_to_reply - elapsed)):
        return
    step(clerk, "feedback", reply=rnd.choice(REPLIES))
    _evaluate_and_archive(rnd, at, step, clerk, f"{township.name}党政办")


def clock_to_deadline(appeal, t):
    """Hours from `t` to the end of the appeal's deadline day."""
    end = datetime.combine(appeal.due_date, datetime.min.time()) + timedelta(days=1)
    return (end - t).total_seconds() / 3600


def _evaluate_and_archive(rnd, at, step, clerk, unit="党政办", reopened=False):
    if not at(rnd.uniform(24, 120)):
        return
    roll = rnd.random()
    if roll < 0.84 or reopened:
        step(clerk, "evaluate", result="satisfied", source="reporter", comment="")
    elif roll < 0.95:
        step(clerk, "evaluate", result="basic", source=rnd.choice(["reporter", "review"]),
             evaluators="村民代表、人大代表", comment="基本解决，希望后续跟踪。")  # fmt: skip
    else:
        step(clerk, "evaluate", result="unsatisfied", source="reporter", comment="问题没有根本解决。")
        if rnd.random() < 0.5 and at(rnd.uniform(12, 48)):
            step(clerk, "reassign", handler_unit=unit, note="反映人不满意，重新交办。")
            if at(rnd.uniform(48, 120)):
                step(clerk, "feedback", reply="重新协调处理，问题已彻底解决，已回访反映人。")
                _evaluate_and_archive(rnd, at, step, clerk, unit, reopened=True)
        return
    if at(rnd.uniform(24, 240)):
        step(clerk, "archive")
