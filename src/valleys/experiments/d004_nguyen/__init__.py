"""Document 004 (Nguyen, PhD thesis): one module per experiment, named after it (``mode-connectivity`` and
``surface-skip`` included: their sources are Theorem 3.4.17 and Figure 4.4 of the thesis)."""
