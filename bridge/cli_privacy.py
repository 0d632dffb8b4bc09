"""``cartbridge privacy`` and ``cartbridge optouts``. (Being written: see issue 4.)"""
