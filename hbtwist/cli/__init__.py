"""`hbctl`: the command-line tool for checking and inspecting an hbtwist cluster.

Each sub-command lives in its own module with a `register(subparsers)` function; `main` lists
those modules in `COMMANDS`.
"""
