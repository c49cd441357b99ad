"""The lab (N hosts in network namespaces on one machine) and the chaos harness.

Knows the product only through its HTTP API and the command line; never imports
``peer/`` or ``raft/``.
"""
