"""The fork server (preloaded SDK, forks nodes in ms), its client, and the spawner that uses it."""
