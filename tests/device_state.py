"""Test helpers: a device's exported state before a call, and a check that it did not change."""

import numpy as np


def snapshot(dev):
    return {k: np.array(v, copy=True) for k, v in dev.state().items()}


def assert_same_state(before, dev):
    after = dev.state()
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(before[key], after[key], err_msg=key)
