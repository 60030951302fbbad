"""Demo visits (民情家访) and representatives with their contact records."""

from datetime import timedelta

from sqlalchemy import select

from app.core.clock import today
from app.models.grids import Grid
from app.models.lookups import ContactForm, GridLevel, PersonKind, VisitForm, VisitTarget
from app.models.personnel import Assignment, Person, Post
from app.models.representatives import Constituency, ContactRecord, Representative
from app.models.visits import Visit

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


def secretary_of(session, grid):
    """The person holding the grid's 第一责任人 post (a leader's login links to them)."""
    return session.scalar(
        select(Person)
        .join(Assignment, Assignment.person_id == Person.id)
        .join(Post, Assignment.post_id == Post.id)
        .where(Assignment.grid_id == grid.id, Post.name == "第一责任人", Assignment.end_date.is_(None))
        .limit(1)
    )
