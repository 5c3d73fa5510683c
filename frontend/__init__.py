"""The clinician UI: templates, static assets and the few views that only render pages."""
