"""Outgoing webhooks: owners and API clients register endpoints; every matching event of the
outbox is delivered to them per the Standard Webhooks specification (docs/webhooks.md)."""
