"""The built-in AI Studios emulator."""
