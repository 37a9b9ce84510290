"""The agent's face: the HTTP API, the dashboard, /metrics and the Alertmanager receiver.

Light on purpose: the catalog imports ``paramedic.api.listen`` to validate
``api.listen``, so nothing here imports FastAPI; ``paramedic.api.app`` does.
"""
