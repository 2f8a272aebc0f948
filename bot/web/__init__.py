"""The web chat page: a small server for the page and botfront's rasa-webchat widget."""
