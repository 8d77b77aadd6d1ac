"""Multi-step jobs built on the session's verbs (people, text, actions); nothing here is imported by the session."""
