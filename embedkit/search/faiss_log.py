"""FAISS's own console output routed to embedkit's log."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("embedkit.search.index")


class faiss_messages_to_log:
    """Route what FAISS's C++ code prints on stderr (k-means warnings such as "please
    provide at least 9984 training points", once per sub-quantizer) to the log: one warning
    per distinct message with its count, never the raw lines."""

    def __enter__(self):
        import sys
        import tempfile

        self._file = None
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no file descriptor 2 (embedded use)
            return self
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        if self._file is None:
            return False
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        text = self._file.read().decode("utf-8", "replace")
        self._file.close()
        counts: dict[str, int] = {}
        for line in text.splitlines():
            line = " ".join(line.split())
            if line:
                counts[line] = counts.get(line, 0) + 1
        for line, count in counts.items():
            log.warning("FAISS: %s%s", line[:300], f" ({count} times)" if count > 1 else "")
        return False
