"""Participation at the chat edge: consultations, ballots and announcements."""
