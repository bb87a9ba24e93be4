"""What changes between two templates: features by probing, text and token deltas per conversation."""
