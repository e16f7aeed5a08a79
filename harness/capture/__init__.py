"""Capture sources chosen by URI, and the threaded capture (ring buffer, timestamps, drops)."""
