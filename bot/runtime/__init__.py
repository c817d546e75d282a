"""The running bot: intake, processor, sender, scheduler and the web side."""

import os
import warnings

from telegram.warnings import PTBUserWarning

# The sender and the poller call Bot API methods by name on purpose (rows in the outbox
# are Bot API calls); PTB's hint to use the typed method does not apply.
warnings.filterwarnings("ignore", message="Please use 'Bot.", category=PTBUserWarning)
# A 429's `retry_after` as a timedelta: python-telegram-bot's coming default, opted into as it
# documents (the sender and the poller read either form). Without it every 429 warns.
os.environ.setdefault("PTB_TIMEDELTA", "true")
