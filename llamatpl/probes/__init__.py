"""Probe conversations and their traced renders, shared by lint, diff and caps.

``run`` renders the probe set once per template (cached); ``features`` reads template features off
those renders (diff); ``caps`` reads capabilities (the caps command); ``turns`` splits a prompt into turns.
"""
