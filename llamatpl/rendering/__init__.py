"""Stage 1, rendering: conversation → prompt text, exactly as transformers' ``apply_chat_template``.

``conversation`` loads and validates input (JSON, JSONL, stdin) into :class:`Conversation`;
``templates`` resolves a template name or file; ``environment`` and ``limits`` are the sandboxed jinja2
environment and its time and size guards; ``renderer`` renders; ``jsonl`` streams many conversations
to prompts or ids.
"""
