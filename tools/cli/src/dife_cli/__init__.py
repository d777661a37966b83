"""`dife`: the operators command-line tool."""
