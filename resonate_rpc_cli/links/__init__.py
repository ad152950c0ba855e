"""Per-node loopback link proxies: break one node's network without root.

By default (``up --no-links`` or ``links = false`` turn it off) every node reaches
the server through its own link, a TCP port on 127.0.0.1 run by the supervisor
daemon (:mod:`.switchboard`, :mod:`.proxy`); while a link is healthy the embedded
server adopts its connections (:mod:`.handoff`), so it adds no hop. ``rpcdemo net``
and the chaos runner break and heal links through :class:`.client.LinkClient`.
"""
