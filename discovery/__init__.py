"""Finding peers on the LAN: mDNS announce/browse, the bootstrap rule, the join handshake.

Only ``discovery/_zc.py`` imports zeroconf; everything else here is pure or stdlib.
"""
