"""The browser console (``rpcdemo ui``, ``up --ui``): a page served on loopback, fed live."""
