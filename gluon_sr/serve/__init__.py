"""The local web app and HTTP API: python -m gluon_sr.serve (see app.py)."""
