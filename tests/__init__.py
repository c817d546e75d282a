"""gridvoice's tests. Each folder is a package; shared helpers live in `tests.support`."""
