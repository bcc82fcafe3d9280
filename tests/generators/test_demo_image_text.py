"""The demo image models draw the scene and nothing else: no caption, no prompt, no name.

In an arena a caption tells the models apart by something other than the picture, so the
same scene from two prompts that differ only in words the painter does not draw must be
the same image, pixel for pixel, at every quality level.
"""

import random

import pytest

from generators.demo.image import render


@pytest.mark.parametrize("quality", [1, 2, 3])
def test_words_that_are_not_drawn_leave_no_trace_in_the_image(quality):
    plain, _ = render("a red house", quality, random.Random(7))
    worded, _ = render("a red house, signed kiln-brush by its painter", quality, random.Random(7))
    assert plain == worded
