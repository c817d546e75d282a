"""Helpers more than one test folder uses: the running world (emulator and bot) and the chat
steps a person takes in it. Import them as `from tests.support.world import World`."""
