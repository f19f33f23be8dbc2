"""Measuring quality: SR metrics and benchmark evaluation, the style gallery and the
network-vs-Gatys style bench."""
