"""fsck and repair: the blob store checked against its own names and against the database.

- :mod:`.scan` re-hashes every stored blob in parallel and quarantines the corrupt ones;
- :mod:`.references` says which blobs the database expects, and what needs a given blob;
- :mod:`.repair` fetches again, lets be generated again, or forgets each bad blob;
- :mod:`.check` runs the three and reports (:func:`~.check.fsck`).

docs/operations.md ("fsck and repair") describes what an operator sees.
"""
