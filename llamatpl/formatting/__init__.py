"""Formatters: turn library results into bytes or terminal views; the library itself never prints."""
