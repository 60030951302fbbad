"""Every table, imported here so Alembic and the app see one metadata."""

from flask_appbuilder.security.sqla.models import User  # noqa: F401  (Person.user)

from app.models.appeals import (  # noqa: F401
    Appeal,
    AppealCounter,
    AppealEvent,
    AppealOpen,
    AppealRollup,
    AppealState,
    AppealSummary,
)
from app.models.assessments import (  # noqa: F401
    AssessmentEntry,
    AssessmentInput,
    AssessmentItem,
    AssessmentRound,
    AssessmentScheme,
    AssessmentScore,
)
from app.models.attachments import Attachment  # noqa: F401
from app.models.audit import AuditLog  # noqa: F401
from app.models.grids import Grid  # noqa: F401
from app.models.lookups import (  # noqa: F401
    LOOKUP_MODELS,
    AppealCategory,
    AppealChannel,
    ContactForm,
    GridLevel,
    PersonKind,
    VisitForm,
    VisitTarget,
)
from app.models.personnel import Assignment, Person, Post  # noqa: F401
from app.models.registers import (  # noqa: F401
    ChoiceList,
    ChoiceValue,
    RegisterDef,
    RegisterField,
    RegisterRollup,
    RegisterRollupMonth,
    RuntimeGeneration,
)
from app.models.representatives import Constituency, ContactRecord, ContactTally, Representative  # noqa: F401
from app.models.rotas import Rota, RotaKind, RotaSlot  # noqa: F401
from app.models.security import RateLimitCounter  # noqa: F401
from app.models.settings import Setting  # noqa: F401
from app.models.visits import PersonKindChange, QuotaRule, Visit, VisitGridTally, VisitTally  # noqa: F401
