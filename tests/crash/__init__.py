"""The crash suite (issue 6, item 2): syncd killed at every action boundary, then run again."""
