"""Boot entry names and the boot-counting rules that make A/B updates roll back."""

import pytest

from peer.osimage import bootentry
from peer.osimage.bootentry import Entry, booted_first, parse, plan_update, rolled_back


def test_names_round_trip_through_the_counter_states():
    for e in (Entry(1, "a"), Entry(12, "b", 1), Entry(3, "b", 0, 1), Entry(999999, "a", 2, 1)):
        assert parse(e.filename) == e
    assert Entry(2, "b", 1).filename == "quantix-000002-b+1.conf"
    assert parse("quantix-000002-b+0-1.conf").state == "bad"
    assert parse("quantix-000002-b+1.conf").state == "trying"
    assert parse("quantix-000002-b.conf").state == "good"
    assert parse("install-quantix.conf") is None
    assert parse("quantix-2-b.conf") is None


def test_the_newest_slot_boots_first_until_it_used_its_tries():
    files = ["quantix-000001-a.conf", "quantix-000002-b+1.conf"]
    assert booted_first(files) == Entry(2, "b", 1)
    # systemd-boot renamed it before booting; the health check never blessed it
    files = ["quantix-000001-a.conf", "quantix-000002-b+0-1.conf"]
    assert booted_first(files) == Entry(1, "a")
    assert rolled_back(files, "a") == Entry(2, "b", 0, 1)
    # blessed: the counter is gone, and nothing was rolled back
    files = ["quantix-000001-a.conf", "quantix-000002-b.conf"]
    assert booted_first(files) == Entry(2, "b")
    assert rolled_back(files, "b") is None


def test_an_update_goes_to_the_other_slot_with_the_next_generation():
    p = plan_update(["quantix-000001-a.conf"], "a")
    assert (p.slot, p.entry, p.remove) == ("b", Entry(2, "b", 1), ())
    # the next update overwrites A and removes A's old entry first
    p = plan_update(["quantix-000001-a.conf", "quantix-000002-b.conf"], "b")
    assert (p.slot, p.entry.generation, p.remove) == ("a", 3, ("quantix-000001-a.conf",))
    # after a rollback the failed slot is the target again, with a newer generation
    p = plan_update(["quantix-000001-a.conf", "quantix-000002-b+0-1.conf"], "a")
    assert (p.slot, p.entry.generation, p.remove) == ("b", 3, ("quantix-000002-b+0-1.conf",))


def test_entry_text_names_the_slot_files_and_refuses_unknown_slots():
    text = bootentry.content("b", "1.2.3")
    assert "linux /b/vmlinuz\n" in text and "initrd /b/initrd.img\n" in text
    assert "quantix.slot=b" in text
    with pytest.raises(bootentry.EntryError):
        bootentry.content("c", "1")
