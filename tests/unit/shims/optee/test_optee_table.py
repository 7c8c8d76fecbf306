"""The OP-TEE syscall tables: OP-TEE's numbering, and handlers only where claimed."""

from slimbox.shims.optee.table import FULL, LDELF, NONE, PARTIAL, UTEE


def test_numbers_follow_optee():
    assert sorted(UTEE) == list(range(71))
    assert sorted(LDELF) == list(range(12))
    assert (UTEE[0].name, UTEE[2].name, UTEE[20].name, UTEE[42].name, UTEE[70].name) == (
        "return", "panic", "hash_final", "storage_obj_create", "cache_operation")
    assert (LDELF[3].name, LDELF[7].name, LDELF[11].name) == ("map_zi", "map_bin", "gen_rnd_num")


def test_support_levels_match_handlers():
    for table in (UTEE, LDELF):
        for entry in table.values():
            assert entry.support in (FULL, PARTIAL, NONE)
            assert (entry.handler is None) == (entry.support == NONE), entry.name
            assert 0 <= entry.arity <= 8
