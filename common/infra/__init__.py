"""Infrastructure of entry points: flag checking, atomic I/O, device parallelism, plots.

Modules: ``cli`` (validation and one-line errors, progress lines), ``io`` (atomic files),
``parallel`` (one data axis over every device and host), ``plotting`` (PNG figures),
``compilation`` (counting compilations, timing without them).
"""
