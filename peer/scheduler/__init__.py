"""The leader's scheduler: where VMs run (placement, balancing) and the reasons when
they cannot. Pure decisions in ``placement``, ``balance`` and ``explain``; the
commits in ``loop``. See docs/ha.md."""
