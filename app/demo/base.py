"""The small demo: a county with three townships, ~30 villages/communities, ~200 groups,
~500 people with their posts, one login per role, and a year of visits, contact records
and appeals in every state. Deterministic (DEMO_SEED) relative to today's date."""

import random
from datetime import timedelta

from faker import Faker
from flask import current_app
from sqlalchemy import select

from app.core.clock import today
from app.demo.appeals import load_demo_appeals
from app.demo.records import load_demo_representatives, load_demo_visits, secretary_of
from app.demo.rotas import load_demo_rotas
from app.models.grids import Grid
from app.models.lookups import GridLevel, PersonKind
from app.models.personnel import Assignment, Person, Post
from app.security import CLERK, GRID_WORKER, LEADER, REPRESENTATIVE
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
    assign(
        county_staff[0], county, "第一责任人"
    ).duty_note = "县委、县政府主要负责人对全县网格化管理工作负总责，统筹指挥、督促检查各乡镇（街道）网格工作。"

    townships, villages, groups = [], [], []
    for t_index, (t_name, t_kind) in enumerate(TOWNSHIPS, start=1):
        township = Grid(code=f"410100{t_index:03d}", name=t_name, level=levels[1], parent=county)
        session.add(township)
        townships.append(township)
        unit = f"{t_name}人民政府" if t_kind != "街道" else f"{t_name}办事处"
        secretary = person(township, "乡镇干部", f"{t_name}党委书记", unit)
        head = person(township, "乡镇干部", f"{t_name}{'主任' if t_kind == '街道' else '长'}", unit)
        assign(
            secretary, township, "第一责任人"
        ).duty_note = f"{t_name}党政主要负责人对本{t_kind}网格化管理负总责，统筹调度、督促检查。"
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
                police = person(village, "县直干部", "首席民警", f"{t_name}派出所")
                assign(police, village, "首席民警")
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
    rota_count = load_demo_rotas(session)
    session.commit()
    appeals = load_demo_appeals(session, rnd, fake, townships, today() - timedelta(days=365))
    return {
        "visits": visit_count,
        "representatives": rep_count,
        "rotas": rota_count,
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
