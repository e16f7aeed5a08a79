"""Remote/control backends chosen by URI, and the avqa key vocabulary."""
