"""Session-wide test set-up: notebooks and renders write into a temporary outputs folder,
never into the repository's own outputs/."""

import os
import tempfile


def pytest_configure(config):
    if "STORYBENCH_OUTPUT_DIR" not in os.environ:
        os.environ["STORYBENCH_OUTPUT_DIR"] = tempfile.mkdtemp(prefix="storybench-test-outputs-")
    # the story explorer notebook runs one real step with the embedded backends under nbval
    os.environ.setdefault("STORYBENCH_STORY_STEP", "1")
