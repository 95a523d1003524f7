"""Access control: who may charge where (per-charger permissions), and the authorization decision."""
