"""Repository root conftest: the avqa plugin is loaded through its ``pytest11`` entry point."""
