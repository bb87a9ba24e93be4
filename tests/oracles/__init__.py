"""Independent truth for the tool-call readers: Meta's decoder in process, vLLM's parsers in their own venv."""
