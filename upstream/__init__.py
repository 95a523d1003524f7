"""The upstream bridge (issue #14): chargers connected to Fusebox, presented to third-party OCPP-J 1.6
central systems. This app holds the configuration, the links' status, the durable queue of
transaction messages, the transaction id mapping and upstream's charging-profile caps; the
asyncio side (the upstream client connections) lives in the bridge, ``ocpp_bridge.upstream``.
docs/upstream.md is the contract for owners and integrators."""
