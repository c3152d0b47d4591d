"""tf.data pipeline: batch contract, padding/masks, the -s fixed-steps rule, epoch coverage, shuffling."""

import numpy as np
import pytest

from mmer_tf.data.pipeline import dims_of, make_dataset, ragged_storage, seed_style_dataset
from mmer_tf.data.segments import SegmentSet
from mmer_tf.errors import MmerError


def tiny_set(lengths=(3, 5, 2, 4), aligned=True):
    """Steps hold recognisable values: segment i, step t, feature d -> 100*i + t + 0.1*d (+1 so no zeros)."""
    def seq(i, length, dim):
        t = np.arange(length, dtype=np.float32)[:, None]
        d = np.arange(dim, dtype=np.float32)[None, :]
        return 100 * i + t + 0.1 * d + 1
    n = len(lengths)
    return SegmentSet(
        ids=[f"v[{i}]" for i in range(n)],
        features={"text": [seq(i, l, 3) for i, l in enumerate(lengths)],
                  "audio": [seq(i, l, 2) for i, l in enumerate(lengths)]},
        labels=np.zeros((n, 7)), aligned=aligned,
    )


def collect(dataset):
    return [({k: v.numpy() for k, v in x.items()}, y.numpy()) for x, y in dataset]


def test_variable_length_batches_padded_per_batch_golden():
    seg = tiny_set()
    y = np.arange(4, dtype=np.float32)[:, None]
    batches = collect(make_dataset(seg, y, batch_size=3, shuffle=False, seed=0))
    assert [b[0]["text"].shape for b in batches] == [(3, 5, 3), (1, 4, 3)]
    x, t = batches[0]
    np.testing.assert_array_equal(x["text_mask"], [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(x["audio_mask"], x["text_mask"])  # aligned view: one time axis
    np.testing.assert_array_equal(x["text"][0, :3], seg.features["text"][0])
    np.testing.assert_array_equal(x["text"][0, 3:], 0.0)  # right padding with zeros
    np.testing.assert_array_equal(x["audio"][2, :2], seg.features["audio"][2])
    np.testing.assert_array_equal(t, [[0], [1], [2]])
    for values in list(x.values()) + [t]:
        assert values.dtype == np.float32


def test_fixed_steps_keeps_last_steps_and_pads_after():
    seg = tiny_set()
    y = np.zeros((4, 2), np.float32)
    (x, _), = collect(make_dataset(seg, y, batch_size=4, shuffle=False, seed=0, fixed_steps=3))
    assert x["text"].shape == (4, 3, 3) and x["audio"].shape == (4, 3, 2)
    np.testing.assert_array_equal(x["text"][1], seg.features["text"][1][-3:])  # 5 steps -> last 3
    np.testing.assert_array_equal(x["text"][3], seg.features["text"][3][-3:])  # 4 steps -> last 3
    np.testing.assert_array_equal(x["text"][0], seg.features["text"][0])      # exactly 3
    np.testing.assert_array_equal(x["text"][2, :2], seg.features["text"][2])   # 2 steps, padded after
    np.testing.assert_array_equal(x["text"][2, 2], 0.0)
    np.testing.assert_array_equal(x["text_mask"], [[1, 1, 1], [1, 1, 1], [1, 1, 0], [1, 1, 1]])


def test_fixed_steps_longer_than_every_segment_pads_to_n():
    (x, _), = collect(make_dataset(tiny_set(), np.zeros((4, 1)), batch_size=4, shuffle=False, seed=0,
                                   fixed_steps=7))
    assert x["audio"].shape == (4, 7, 2)
    np.testing.assert_array_equal(x["audio_mask"].sum(1), [3, 5, 2, 4])


def test_ragged_storage_matches_per_segment_slicing():
    rng = np.random.default_rng(3)
    seqs = [rng.random((int(l), 4)).astype(np.float32) for l in rng.integers(1, 30, size=50)]
    for n in (0, 1, 7, 40):
        values, lengths = ragged_storage(seqs, n)
        expected = [s[-n:] if n else s for s in seqs]
        np.testing.assert_array_equal(lengths, [len(s) for s in expected])
        np.testing.assert_array_equal(values, np.concatenate(expected))


def test_every_example_once_per_epoch_and_reshuffled():
    rng = np.random.default_rng(0)
    seg = tiny_set(tuple(rng.integers(1, 9, size=23)))
    y = np.arange(23, dtype=np.float32)[:, None]
    dataset = make_dataset(seg, y, batch_size=5, shuffle=True, seed=7)
    orders = []
    for _ in range(3):
        batches = collect(dataset)
        order = np.concatenate([t[:, 0] for _, t in batches]).astype(int)
        assert sorted(order) == list(range(23))
        for x, t in batches:  # features travel with their own target
            for row, i in enumerate(t[:, 0].astype(int)):
                length = len(seg.features["text"][i])
                np.testing.assert_array_equal(x["text"][row, :length], seg.features["text"][i])
                assert x["text_mask"][row].sum() == length
        orders.append(order.tolist())
    assert orders[0] != orders[1] or orders[1] != orders[2]


def test_shuffle_is_deterministic_given_seed():
    seg = tiny_set(tuple(range(1, 31)))
    y = np.arange(30, dtype=np.float32)[:, None]

    def epochs(seed):
        dataset = make_dataset(seg, y, batch_size=4, shuffle=True, seed=seed)
        return [np.concatenate([t[:, 0] for _, t in collect(dataset)]).tolist() for _ in range(2)]

    assert epochs(3) == epochs(3)
    assert epochs(3) != epochs(4)
    unshuffled = np.concatenate([t[:, 0] for _, t in collect(make_dataset(seg, y, batch_size=4, shuffle=False,
                                                                             seed=3))])
    np.testing.assert_array_equal(unshuffled, np.arange(30))


def test_drop_remainder_and_modalities_selection():
    seg = tiny_set()
    batches = collect(make_dataset(seg, np.zeros((4, 1)), batch_size=3, shuffle=False, seed=0,
                                   drop_remainder=True, modalities=["audio"]))
    assert len(batches) == 1 and set(batches[0][0]) == {"audio", "audio_mask"}
    assert dims_of(seg) == {"text": 3, "audio": 2}
    assert dims_of(seg, ["audio"]) == {"audio": 2}


def test_unaligned_view_pads_each_modality_separately():
    seg = tiny_set(aligned=False)
    seg.features["audio"] = [np.ones((l, 2), np.float32) for l in (6, 1, 2, 2)]
    (x, _), = collect(make_dataset(seg, np.zeros((4, 1)), batch_size=4, shuffle=False, seed=0))
    assert x["text"].shape[1] == 5 and x["audio"].shape[1] == 6
    np.testing.assert_array_equal(x["audio_mask"].sum(1), [6, 1, 2, 2])


def test_seed_style_dataset_yields_the_same_batches():
    seg = tiny_set()
    y = np.arange(8, dtype=np.float32).reshape(4, 2)
    for steps in (0, 3):
        ours = collect(make_dataset(seg, y, batch_size=3, shuffle=False, seed=0, fixed_steps=steps))
        seeds = collect(seed_style_dataset(seg, y, batch_size=3, fixed_steps=steps))
        assert len(ours) == len(seeds)
        for (xa, ya), (xb, yb) in zip(ours, seeds):
            assert set(xa) == set(xb)
            for key in xa:
                assert xb[key].dtype == np.float32
                np.testing.assert_allclose(xa[key], xb[key], rtol=1e-6)
            np.testing.assert_array_equal(ya, yb)


@pytest.mark.parametrize("change, needle", [
    (lambda s, y: (s, y[:2]), "targets"),
    (lambda s, y: (SegmentSet(s.ids, {"text": s.features["text"], "audio": [a[:1] for a in s.features["audio"]]},
                              s.labels), y), "aligned view"),
])
def test_user_errors_are_one_line(change, needle):
    seg, y = change(tiny_set(), np.zeros((4, 1), np.float32))
    with pytest.raises(MmerError, match=needle):
        make_dataset(seg, y, batch_size=2, shuffle=False, seed=0)


def test_unknown_modality_and_bad_flags():
    with pytest.raises(MmerError, match="vision"):
        make_dataset(tiny_set(), np.zeros((4, 1)), batch_size=2, shuffle=False, seed=0, modalities=["vision"])
    with pytest.raises(MmerError, match="fixed_num_steps"):
        make_dataset(tiny_set(), np.zeros((4, 1)), batch_size=2, shuffle=False, seed=0, fixed_steps=-1)
    with pytest.raises(MmerError, match="batch_size"):
        make_dataset(tiny_set(), np.zeros((4, 1)), batch_size=0, shuffle=False, seed=0)
