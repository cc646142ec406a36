"""The playground's headless side: its state (mode, parameters, conversation) and the chat journal on disk."""
