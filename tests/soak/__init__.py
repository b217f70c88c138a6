"""The soak (``make soak``, ``python -m tests.soak``): the compose set-up on loopback under
wrk's load while a sync commits with its worker killed, a tag moves, PostgreSQL restarts
and GC runs. Not part of ``make test``: it takes a couple of minutes and both cores."""
