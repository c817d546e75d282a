"""The running bot: intake, processor, sender, scheduler and the web side."""

import warnings

from telegram.warnings import PTBUserWarning

# The sender and the poller call Bot API methods by name on purpose (rows in the outbox
# are Bot API calls); PTB's hint to use the typed method does not apply.
warnings.filterwarnings("ignore", message="Please use 'Bot.", category=PTBUserWarning)
