"""Cases at the chat edge: the staff card and its prompts, the queues, the resident's own cases."""
