"""What every domain uses and no domain owns: time, errors, the unit of work, the
counts memo, Excel, mail and the reports' database session.

Nothing here imports a domain model, service or view: models, services and views
all sit on top of it.
"""
