"""ganforge's built-in components. Each module is a plugin, found through the ``ganforge``
entry-point group declared in ganforge's ``pyproject.toml``, like any third-party package."""
