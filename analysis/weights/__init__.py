"""The model registry: each model the pipeline uses, where its weights come from."""
