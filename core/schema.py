"""What Alembic compares against the models, shared by migrations/env.py and the drift test."""


def include_object(obj, name, type_, reflected, compare_to):
    """Leave alone what the models do not describe on purpose: APScheduler's job table, and the
    lexical-search structures migration 0003 creates per database."""
    if type_ == "table" and (name == "apscheduler_jobs" or (name or "").startswith("chunks_fts")):
        return False
    return not (type_ == "column" and name == "tsv") and not (type_ == "index" and name == "ix_chunks_tsv")
