"""Reading the cluster state: defaults for missing fields, and the reader's cache."""

from peer.scheduler.model import StateReader, Vm, read_state
from raft.store import LocalStore, delete, put


def test_a_bare_vm_record_gets_the_defaults_a_user_expects():
    v = Vm.parse("x", 1, {"name": "x"})
    assert (v.vcpus, v.memory_mib, v.desired, v.placement, v.epoch) == (1, 512, "running", None, 0)
    assert not v.ha.enabled and v.ha.max_restarts == 3 and v.pools == frozenset()


async def test_reader_sees_every_change_including_delete_and_recreate():
    store = LocalStore()
    await store.commit([put("vms", "a", {"name": "a", "vcpus": 1})])
    reader = StateReader()
    first = reader.read(store)
    assert reader.read(store) is first  # unchanged replica: same snapshot
    await store.commit([put("vms", "a", {"name": "a", "vcpus": 2})])
    assert reader.read(store).vms["a"].vcpus == 2
    await store.commit([delete("vms", "a")])
    assert "a" not in reader.read(store).vms
    await store.commit([put("vms", "a", {"name": "a", "vcpus": 7})])  # version 1 again
    assert reader.read(store).vms["a"].vcpus == 7
    assert read_state(store).vms["a"].vcpus == 7
