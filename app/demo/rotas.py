"""Demo rotas: a 村民说事日 for each village of the first township and its 领导带班接访, this month,
generated from their rules, the days gone by recorded (one 说事日 missed, to show the check)."""

from sqlalchemy import select

from app.core.clock import today
from app.demo.records import _people_by
from app.models.grids import Grid
from app.models.rotas import Rota, RotaKind
from app.services import rotas as rota_service


def load_demo_rotas(session):
    kinds = {k.code: k for k in session.scalars(select(RotaKind))}
    township = session.scalar(select(Grid).where(Grid.depth == 1).order_by(Grid.code))
    if township is None or "speakup" not in kinds:
        return 0
    on = today()
    start, end = rota_service.month_bounds(on.year, on.month)
    village_cadres = _people_by(session, "村两委干部")
    plans = [(township, kinds["reception"], _people_by(session, "乡镇干部").get(township.id, [])[:5], "乡镇接访中心")]
    for village in session.scalars(select(Grid).where(Grid.parent_id == township.id).order_by(Grid.code)):
        plans.append((village, kinds["speakup"], village_cadres.get(village.id, [])[:4], "村委会说事室"))
    made = 0
    for grid, kind, people, place in plans:
        if not people:
            continue
        rota = Rota(
            grid=grid, kind=kind, start_date=start, end_date=end, place=place, duty="接待群众，登记并处理反映的问题"
        )
        rota.members = list(people)
        rota_service.validate_rota(session, rota)
        session.add(rota)
        session.flush()
        rota_service.generate_slots(session, rota)
        for index, slot in enumerate(sorted(rota.slots, key=lambda s: s.slot_date)):
            if slot.slot_date < on:
                slot.held = not (kind.code == "speakup" and index == 1)
                slot.outcome = "接待群众3人，已登记" if slot.held else None
        made += 1
    session.flush()
    return made
