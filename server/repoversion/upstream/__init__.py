"""Upstream apt archives: their configuration (:mod:`.archives`) and the one HTTP client
that talks to them, for the sync and for fetch-through (:mod:`.http`)."""
