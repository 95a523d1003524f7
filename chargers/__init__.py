"""Chargers and their connectors: OCPP identity and credentials, electrical set-up, live state."""
