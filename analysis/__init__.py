"""Moodline's analysis pipeline: media in, an emotional-trajectory timeline out.

Pure Python and torch; nothing here imports Django, so the pipeline runs from the CLI
(`python -m analysis ...`) exactly as it runs inside a Celery worker.
"""
