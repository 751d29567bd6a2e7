"""Real-browser tests (a package, so its conftest and the top one keep separate names)."""
