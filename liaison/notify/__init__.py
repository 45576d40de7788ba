"""To-dos and reminder rounds: GitLab's ``events``, the ``todos`` they make, their ``todoledger`` and ``worker``,
the channels (``sms``, ``app`` through ``transport``), and the reminder rounds (``plan``, ``send`` by mail and
webhook, ``robots``, their ``ledger``; ``rounds`` sends a round by every channel)."""
