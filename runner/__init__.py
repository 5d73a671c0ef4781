"""The engine of a run: check the paths, plan what is stale, render it in workers, watch, the gallery."""
