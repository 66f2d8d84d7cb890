"""training/groups.batch_groups: the order a run meets its question groups in, so that a run going on
from another's weights (`--from-batch`) meets the groups that run did not reach."""

import pytest

pytest.importorskip("torch")  # the `train` extra


def test_an_epoch_meets_every_group_once_and_the_next_epoch_reshuffles():
    from training.groups import batch_groups

    groups, per_batch, seed = 23, 4, 7
    per_epoch = 6  # ceil(23 / 4): the last batch of an epoch holds the 3 left over
    first = [batch_groups(groups, per_batch, seed, b) for b in range(per_epoch)]
    second = [batch_groups(groups, per_batch, seed, b) for b in range(per_epoch, 2 * per_epoch)]
    for epoch in (first, second):
        met = [g for batch in epoch for g in batch]
        assert sorted(met) == list(range(groups))
        assert [len(batch) for batch in epoch] == [4, 4, 4, 4, 4, 3]
    assert first != second


def test_a_run_from_another_runs_last_batch_meets_only_groups_it_did_not():
    from training.groups import batch_groups

    groups, per_batch, seed, reached = 40, 4, 23, 6
    earlier = {g for b in range(reached) for g in batch_groups(groups, per_batch, seed, b)}
    later = {g for b in range(reached, 10) for g in batch_groups(groups, per_batch, seed, b)}
    assert len(earlier) == reached * per_batch and not earlier & later
    assert earlier | later == set(range(groups))
    assert batch_groups(groups, per_batch, seed, 3) != batch_groups(groups, per_batch, seed + 1, 3)


def test_the_groups_fingerprint_is_of_their_ids_in_order():
    from training.groups import groups_fingerprint

    groups = [{"id": "q1", "windows": [1]}, {"id": "q2", "windows": [2]}, {"id": "q3", "windows": [3]}]
    same_ids = [{"id": g["id"], "windows": []} for g in groups]  # windows cut (fewer_windows): the same batches
    assert groups_fingerprint(same_ids) == groups_fingerprint(groups)
    assert groups_fingerprint(groups[::-1]) != groups_fingerprint(groups)  # another order: other batches
    assert groups_fingerprint(groups[:2]) != groups_fingerprint(groups)
