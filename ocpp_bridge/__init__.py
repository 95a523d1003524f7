"""OCPP-J 1.6 bridge: the chargers' websocket server and the upstream connections (OCPP issue)."""
