"""The host console (DCUI): ``quantix console``, on TTY1 or any 80x24+ terminal.

It talks to the local peer over the peer's unix socket only (it works with the
network down) and never imports the peer: everything it knows comes from the
API. ``terminal.py`` is the only module that uses asciimatics; the screens are
plain objects that turn API data into lines and keys into API calls.
"""
