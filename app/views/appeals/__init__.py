"""Appeal pages (`pages`) and API (`api`), with what both share (`common`)."""

from app.views.appeals.api import AppealApi  # noqa: F401
from app.views.appeals.pages import AppealView  # noqa: F401
