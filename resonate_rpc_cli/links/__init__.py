"""Per-node loopback link proxies: break one node's network without root.

Under ``up --links`` (or ``links = true``) every node reaches the server through
its own link, a TCP proxy on 127.0.0.1 run by the supervisor daemon
(:mod:`.switchboard`, :mod:`.proxy`). ``rpcdemo net`` and the chaos runner break and
heal links through :class:`.client.LinkClient`.
"""
