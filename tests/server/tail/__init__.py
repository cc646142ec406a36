"""LogTail against real writer processes: partial lines, truncation, rotation, absence, back-pressure."""
