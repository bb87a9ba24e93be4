"""Stage 4, verification: the rendered prompt's tokens against Meta's reference encoding.

``reference`` builds the expected prompt as labelled pieces; ``compare`` checks one conversation
(:func:`verify_conversation`); ``search`` runs the hypothesis search over generated conversations
(:func:`verify_template`); ``strategies`` generates them (public as ``llamatpl.strategies``).
"""
