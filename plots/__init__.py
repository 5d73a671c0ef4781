"""Plot modules: each file registers figures with `@figure(...)`; adding a figure is adding a file."""
