"""User accounts: the custom user model (e-mail login) and allauth integration."""
