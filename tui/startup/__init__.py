"""From command-line choices to a console session: the session value and how the CLI builds it."""
