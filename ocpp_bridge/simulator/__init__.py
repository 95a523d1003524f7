"""Simulated OCPP-J 1.6 chargers with cars, for the demo, tests and load benchmarks.

No Django in here: ``car`` (battery and charging curve), ``profiles`` (smart charging),
``configuration`` (the key store), ``station`` (a charger's state, pure), ``charger`` (connection
and outbox), ``life`` (car visits, transactions, meter values), ``commands`` (answers to the
central system), ``fleet`` (many chargers in one loop). Entry points: ``python -m
ocpp_bridge.simulator`` and ``python manage.py simulate``.
"""
