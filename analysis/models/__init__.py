"""The model registry: every model the pipeline uses, where its weights come from, and how to load them."""
