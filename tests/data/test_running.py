"""audio.running: the limiter's numpy running min/mean equal scipy.ndimage's filters."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import minimum_filter1d, uniform_filter1d

from tfgridnet.audio.running import running_mean, running_min


@pytest.mark.parametrize("shape", [(1,), (4,), (17,), (3, 1000), (2, 3, 257)])
@pytest.mark.parametrize("size", [1, 3, 11, 161, 1001])
def test_running_min_and_mean_equal_scipy_nearest(shape, size):
    x = np.random.default_rng(size).standard_normal(shape)
    assert np.array_equal(running_min(x, size), minimum_filter1d(x, size, axis=-1, mode="nearest"))
    np.testing.assert_allclose(running_mean(x, size),
                               uniform_filter1d(x, size, axis=-1, mode="nearest"),
                               rtol=0, atol=1e-12)


def test_even_or_empty_window_is_refused():
    for size in (0, 2):
        with pytest.raises(ValueError, match="odd"):
            running_min(np.ones(5), size)
