"""Database: typed models (:mod:`.models`) and session handling (:mod:`.session`)."""
