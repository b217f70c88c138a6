"""Dependency resolution and lockfiles: apt's own resolver over a version's indices.

A request (``build-essential``, ``hello=2.10-3``, ``curl/bookworm-security``) is resolved
by libapt itself, through python3-apt, exactly as ``apt-get install --simulate`` does on
an empty system pointed at the version (no second resolver):

- :mod:`.request`: the request's grammar, checked before any work;
- :mod:`.tree`: the scratch apt tree of a version (its Packages, an empty dpkg status);
- :mod:`.aptcache`: the process's apt caches, apt's global configuration under one lock,
  and the forked copy each resolution runs in;
- :mod:`.solve`: apt-get install's steps; :mod:`.explain`: why a request cannot be installed;
- :mod:`.lockfile`: the lockfile format (SPEC section 6), its bytes, its changes;
- :mod:`.service`: the entry point, with its caches of results.
"""
