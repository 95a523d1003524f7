"""End-to-end tests of the OCPP-J 1.6 bridge over real websockets."""
