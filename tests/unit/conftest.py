"""Unit tests fake HTTP with the responses library, which patches requests (the client's HTTP layer)."""
