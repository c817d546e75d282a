"""People at the chat edge: onboarding and personal data, staff invites, household checks."""
