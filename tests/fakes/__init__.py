"""Protocol-faithful fake peers for the control backends (real sockets, pseudo-terminals, processes)."""
