"""Typed clients over the wire: the HTTP JSON exchange and the Resonate protocol client."""
