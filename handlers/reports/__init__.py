"""Reports at the chat edge: the resident's report draft, from the first words to filing."""
