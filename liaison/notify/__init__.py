"""Reminder rounds (一线规则): ``plan`` who is below the minimum, ``send`` by mail and webhook, the ``ledger``."""
