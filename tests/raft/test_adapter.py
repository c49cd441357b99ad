"""The adapter's fix for pysyncobj's follower deleting entries it already holds."""

from raft.pysyncobj_adapter import skip_known_entries


def log_of(*terms, first=1):
    return [(b"c%d" % (first + i), first + i, t) for i, t in enumerate(terms)]


def ae(prev, prev_term, entries, term):
    return {
        "type": "append_entries",
        "term": term,
        "prevLogIdx": prev,
        "prevLogTerm": prev_term,
        "entries": entries,
    }


def test_resent_entries_are_dropped_and_the_rest_of_the_log_kept():
    log = log_of(1, 2, 2, 2, 2)  # entries 1..5; 3..5 came from the leader of term 2
    msg = ae(2, 2, log[2:4], term=2)  # the leader re-sends 3..4 after a stale ack
    skip_known_entries(msg, log)
    # Nothing new: acknowledge the whole log (entry 5 is this leader's too).
    assert msg["entries"] == [] and (msg["prevLogIdx"], msg["prevLogTerm"]) == (5, 2)


def test_new_entries_after_known_ones_are_kept():
    log = log_of(1, 1, 1)
    new = [*log[1:], (b"c4", 4, 1), (b"c5", 5, 1)]
    msg = ae(1, 1, new, term=1)
    skip_known_entries(msg, log)
    assert [e[1] for e in msg["entries"]] == [4, 5] and msg["prevLogIdx"] == 3


def test_a_conflict_is_left_for_truncation():
    log = log_of(1, 1, 1, 1)  # entries 3..4 from a deposed leader of term 1
    msg = ae(2, 1, [(b"x3", 3, 2), (b"x4", 4, 2)], term=2)
    skip_known_entries(msg, log)
    assert [e[1] for e in msg["entries"]] == [3, 4] and msg["prevLogIdx"] == 2


def test_an_older_terms_tail_is_not_vouched_for():
    log = log_of(1, 2, 1)  # entry 3 (term 1) cannot be known to match the term-3 leader
    msg = ae(1, 1, [(b"c2", 2, 2)], term=3)
    skip_known_entries(msg, log)
    assert msg["entries"] == [] and msg["prevLogIdx"] == 2  # pysyncobj truncates 3


def test_entries_before_a_compacted_log_are_left_alone():
    log = log_of(5, 5, first=100)
    msg = ae(98, 5, [(b"c99", 99, 5), (b"c100", 100, 5)], term=5)
    skip_known_entries(msg, log)
    assert [e[1] for e in msg["entries"]] == [99, 100] and msg["prevLogIdx"] == 98
