"""Library output settings shared by the CLI and grid workers (which start bare)."""

from __future__ import annotations


def quiet_libraries():
    """Our own progress bars are the ones to watch; silence the libraries' per-file bars."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
