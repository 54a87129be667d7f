"""Where the unimplemented-field warnings used to live: ``minikubelet.manifest.capabilities``.

``manifest.load_bytes`` folds them into every ``LoadResult``; this name stays for callers
that still add them by hand after ``load_text``.
"""

from minikubelet.manifest.capabilities import unimplemented_warnings

__all__ = ["unimplemented_warnings"]
