"""The bridge's side of the upstream bridge (issue #14, docs/upstream.md): one OCPP-J 1.6 client
connection per bridged charger to a third-party central system.

- ``link``: the connection (connect, boot, heartbeat, status, the durable transaction queue,
  authorization) of one bridged charger.
- ``manager``: a node's links (``bridge.upstream``): opened and closed with their chargers,
  settings changes, the links' status rows and events.
- ``inbound``: what upstream asks of the charger (remote start/stop, configuration, charging
  profiles, ...), executed through Fusebox's command path and answered with the charger's answer.
"""
