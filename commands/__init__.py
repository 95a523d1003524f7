"""The command path: the one way anything in Fusebox reaches a charger.

A `Command` row records what was asked of which charger, by whom, and what the charger answered;
`routing` queues it to the bridge node that holds the charger (Redis) and reads presence and live
state; `payloads` validates a payload against the OCPP 1.6 schemas before anything is queued;
`reserved` refuses a person's command that would undo balancing, the failsafe or access.

Dependencies point one way: access (`auth_access`), balancing and the web UI send through this
package; the OCPP bridge (`ocpp_bridge`) executes what it queues and calls access decisions. This
package imports neither of them.
"""
