"""Scaffolding shared by the tests and the benches, and by nothing that ships.

Why a package of its own: ``tests/`` and ``bench/`` both need a Raft store in a
child process, the test guest's kernel and initramfs, an API client over a peer's
unix socket and a way to wait on a condition. Inside a product package (``raft/``,
``hypervisor/``) that code would ship with the daemon; inside ``tests/`` a bench
would have to import the test suite. Here it is neither.

The rule: ``testkit`` may import the product packages; no product package
(``raft``, ``discovery``, ``peer``, ``hypervisor``, ``agent``, ``console``,
``chaos``) imports ``testkit``.

- ``wait``: ``wait_for`` / ``async_wait_for``, the one way to wait on a condition
  with a deadline; both raise ``WaitTimeout`` when it passes.
- ``localapi``: ``LocalApi``, ``/api/v1`` of one peer over its root-only unix socket.
- ``raftnode``: a RaftStore in its own process (``python -m testkit.raftnode``)
  and the client that drives a cluster of them.
- ``guest``: the test guest (Debian kernel + busybox initramfs) built once.
- ``labguest``: that guest in a lab, through the API.
"""
