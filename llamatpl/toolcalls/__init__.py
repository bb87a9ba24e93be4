"""Tool calls in a model's output: reading them back into OpenAI-style calls (``parser``)."""
