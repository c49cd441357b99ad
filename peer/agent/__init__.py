"""The peer's side of the guest agents of the VMs it hosts (docs/agent.md):
one session per running VM (``session``), what goes into ``vm_status.agent``
and when (``status``), the manager the reconciler and the API use (``manager``)
and the API routes (``routes``)."""
