"""Repoversions: the only writer of versions and the one reader of their contents.

- :mod:`.numbering`: version numbers, bumps, state ids;
- :mod:`.refs`: ``X.Y.Z``, tags, ``latest`` and timestamps to versions; listing;
- :mod:`.snapshot`: what a sync hands over (per suite: files, Release, scope changes);
- :mod:`.commit`: turns snapshots into a new version, in one transaction;
- :mod:`.changes`: how package changes are classified and counted (commit and diff);
- :mod:`.contents`: membership ("rows of version V", "rows open now") and the
  queries built on it: packages, pool files, Releases;
- :mod:`.base`: what the newest version holds, as a sync needs it;
- :mod:`.diff`: packages added, removed, upgraded, downgraded between two versions;
- :mod:`.stanzasets`: per-scope stanza digests kept with each version;
- :mod:`.tags`: movable names and their history.
"""
