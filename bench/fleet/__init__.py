"""Fleet benchmark: the fleet page and ``/api/v1/fleet/`` at 1,000 installations (``__main__``)."""
