"""Reading a decoded record: field paths compiled into getters, and conversions of the values they read. Below both
mapping and policy, which read records through them."""
